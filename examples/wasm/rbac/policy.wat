;; An RBAC policy in WebAssembly text that follows the OPA Wasm ABI 1.2 (what `opa build -t wasm`
;; emits, written by hand because `opa` cannot run here). Entrypoints:
;;   app/rbac/decision (0, the default) -> a PKG decision: one `grant_access` subtask, or none
;;   app/rbac/allow    (1)              -> true | false
;; It reads `data.app.rbac.roles[input.user]` and allows when that role's entry in
;; `data.app.rbac.grants` lists `input.action`. Deny by default: a missing user, role or action,
;; or a value it cannot read (e.g. one with escaped quotes), is a deny.
;;
;; Like the test suite's modules (tests/unit/wasm/wat.py), a "value" is an 8-byte record
;; {ptr, len} of compact JSON text: opa_json_parse wraps the text the host hands over, and the
;; policy searches it. The host sends compact JSON input and keeps data as canonical JSON
;; (sorted keys, no spaces), which is what makes these searches exact.
(module
  (import "env" "memory" (memory 2))
  (import "env" "opa_abort" (func $abort (param i32)))
  (import "env" "opa_println" (func $println (param i32)))
  (import "env" "opa_builtin0" (func $b0 (param i32 i32) (result i32)))
  (import "env" "opa_builtin1" (func $b1 (param i32 i32 i32) (result i32)))
  (import "env" "opa_builtin2" (func $b2 (param i32 i32 i32 i32) (result i32)))
  (import "env" "opa_builtin3" (func $b3 (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "opa_builtin4" (func $b4 (param i32 i32 i32 i32 i32 i32) (result i32)))
  (global (export "opa_wasm_abi_version") i32 (i32.const 1))
  (global (export "opa_wasm_abi_minor_version") i32 (i32.const 2))
  (global $heap (mut i32) (i32.const 16384))
  (global $tok_ptr (mut i32) (i32.const 0))
  (global $tok_len (mut i32) (i32.const 0))
  (global $role_ptr (mut i32) (i32.const 0))
  (global $role_len (mut i32) (i32.const 0))

  ;; ---- the ABI's memory and value calls
  (func $malloc (export "opa_malloc") (param $n i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $ok
      (loop $grow
        (br_if $ok (i32.le_u (local.get $end) (i32.mul (memory.size) (i32.const 65536))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
          (then (call $abort (i32.const 1488)) (unreachable)))
        (br $grow)))
    (global.set $heap (local.get $end))
    (local.get $p))
  (func (export "opa_free") (param i32))
  (func (export "opa_heap_ptr_get") (result i32) (global.get $heap))
  (func (export "opa_heap_ptr_set") (param i32) (global.set $heap (local.get 0)))
  (func $value (param $ptr i32) (param $len i32) (result i32)
    (local $r i32)
    (local.set $r (call $malloc (i32.const 8)))
    (i32.store (local.get $r) (local.get $ptr))
    (i32.store offset=4 (local.get $r) (local.get $len))
    (local.get $r))
  (func (export "opa_json_parse") (param $ptr i32) (param $len i32) (result i32)
    (call $value (local.get $ptr) (local.get $len)))
  (func $emit (param $ptr i32) (param $len i32)
    (memory.copy (call $malloc (local.get $len)) (local.get $ptr) (local.get $len)))
  (func (export "opa_json_dump") (param $v i32) (result i32)
    (local $start i32)
    (local.set $start (global.get $heap))
    (call $emit (i32.load (local.get $v)) (i32.load offset=4 (local.get $v)))
    (call $emit (i32.const 1120) (i32.const 1))
    (local.get $start))
  (func (export "entrypoints") (result i32) (call $value (i32.const 1520) (i32.const 42)))
  (func (export "builtins") (result i32) (call $value (i32.const 1568) (i32.const 2)))

  ;; ---- searching JSON text
  ;; index of needle in haystack, or -1
  (func $find (param $h i32) (param $hl i32) (param $n i32) (param $nl i32) (result i32)
    (local $i i32) (local $j i32)
    (if (i32.gt_s (local.get $nl) (local.get $hl)) (then (return (i32.const -1))))
    (loop $outer
      (local.set $j (i32.const 0))
      (block $mismatch
        (loop $inner
          (br_if $mismatch
            (i32.ne (i32.load8_u (i32.add (local.get $h) (i32.add (local.get $i) (local.get $j))))
                    (i32.load8_u (i32.add (local.get $n) (local.get $j)))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $inner (i32.lt_u (local.get $j) (local.get $nl))))
        (return (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $outer (i32.le_s (local.get $i) (i32.sub (local.get $hl) (local.get $nl)))))
    (i32.const -1))
  ;; address of the first `byte` in [ptr, end), or end
  (func $scan (param $ptr i32) (param $end i32) (param $byte i32) (result i32)
    (block $found
      (loop $next
        (br_if $found (i32.ge_u (local.get $ptr) (local.get $end)))
        (br_if $found (i32.eq (i32.load8_u (local.get $ptr)) (local.get $byte)))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (br $next)))
    (local.get $ptr))
  ;; the string after `key` (e.g. "user":") in [ptr, ptr+len) -> $tok_ptr/$tok_len; 0 if absent
  (func $string_after (param $ptr i32) (param $len i32) (param $key i32) (param $kl i32)
      (result i32)
    (local $at i32) (local $end i32)
    (local.set $at (call $find (local.get $ptr) (local.get $len) (local.get $key) (local.get $kl)))
    (if (i32.lt_s (local.get $at) (i32.const 0)) (then (return (i32.const 0))))
    (local.set $end (i32.add (local.get $ptr) (local.get $len)))
    (global.set $tok_ptr (i32.add (local.get $ptr) (i32.add (local.get $at) (local.get $kl))))
    (global.set $tok_len
      (i32.sub (call $scan (global.get $tok_ptr) (local.get $end) (i32.const 34))
               (global.get $tok_ptr)))
    ;; a value with a backslash (an escape) is not one we can read: absent
    (if (i32.lt_u (call $scan (global.get $tok_ptr)
                              (i32.add (global.get $tok_ptr) (global.get $tok_len)) (i32.const 92))
                  (i32.add (global.get $tok_ptr) (global.get $tok_len)))
      (then (return (i32.const 0))))
    (i32.lt_u (i32.add (global.get $tok_ptr) (global.get $tok_len)) (local.get $end)))
  ;; `"` + text + suffix, on the heap
  (func $quoted (param $ptr i32) (param $len i32) (param $suffix i32) (param $sl i32)
      (result i32)
    (local $start i32)
    (local.set $start (global.get $heap))
    (call $emit (i32.const 1616) (i32.const 1))
    (call $emit (local.get $ptr) (local.get $len))
    (call $emit (local.get $suffix) (local.get $sl))
    (local.get $start))
  ;; the object after `key` (e.g. "roles":{) in [ptr, ptr+len): $tok_ptr/$tok_len span to its
  ;; first `}` (its values are strings or arrays of strings: no nested objects)
  (func $object_after (param $ptr i32) (param $len i32) (param $key i32) (param $kl i32)
      (result i32)
    (local $at i32)
    (local.set $at (call $find (local.get $ptr) (local.get $len) (local.get $key) (local.get $kl)))
    (if (i32.lt_s (local.get $at) (i32.const 0)) (then (return (i32.const 0))))
    (global.set $tok_ptr (i32.add (local.get $ptr) (i32.add (local.get $at) (local.get $kl))))
    (global.set $tok_len
      (i32.sub (call $scan (global.get $tok_ptr) (i32.add (local.get $ptr) (local.get $len))
                           (i32.const 125))
               (global.get $tok_ptr)))
    (i32.const 1))

  ;; ---- the policy
  ;; 1 when data.app.rbac.grants[data.app.rbac.roles[input.user]] lists input.action
  (func $allowed (param $data i32) (param $input i32) (param $input_len i32) (result i32)
    (local $dptr i32) (local $dlen i32) (local $uptr i32) (local $ulen i32)
    (local $aptr i32) (local $alen i32) (local $at i32) (local $list i32) (local $list_end i32)
    (local.set $dptr (i32.load (local.get $data)))
    (local.set $dlen (i32.load offset=4 (local.get $data)))
    (if (i32.eqz (call $string_after (local.get $input) (local.get $input_len)
                                     (i32.const 1024) (i32.const 8)))
      (then (return (i32.const 0))))
    (local.set $uptr (global.get $tok_ptr)) (local.set $ulen (global.get $tok_len))
    (if (i32.eqz (call $string_after (local.get $input) (local.get $input_len)
                                     (i32.const 1040) (i32.const 10)))
      (then (return (i32.const 0))))
    (local.set $aptr (global.get $tok_ptr)) (local.set $alen (global.get $tok_len))
    ;; the user's role: "<user>":"<role>" inside the roles object
    (if (i32.eqz (call $object_after (local.get $dptr) (local.get $dlen) (i32.const 1056) (i32.const 9)))
      (then (return (i32.const 0))))
    (if (i32.eqz (call $string_after (global.get $tok_ptr) (global.get $tok_len)
        (call $quoted (local.get $uptr) (local.get $ulen) (i32.const 1584) (i32.const 3))
        (i32.add (local.get $ulen) (i32.const 4))))
      (then (return (i32.const 0))))
    (global.set $role_ptr (global.get $tok_ptr)) (global.set $role_len (global.get $tok_len))
    ;; the role's grants: "<role>":[...] inside the grants object
    (if (i32.eqz (call $object_after (local.get $dptr) (local.get $dlen) (i32.const 1072) (i32.const 10)))
      (then (return (i32.const 0))))
    (local.set $at (call $find (global.get $tok_ptr) (global.get $tok_len)
      (call $quoted (global.get $role_ptr) (global.get $role_len) (i32.const 1600) (i32.const 3))
      (i32.add (global.get $role_len) (i32.const 4))))
    (if (i32.lt_s (local.get $at) (i32.const 0)) (then (return (i32.const 0))))
    (local.set $list
      (i32.add (global.get $tok_ptr)
               (i32.add (local.get $at) (i32.add (global.get $role_len) (i32.const 4)))))
    (local.set $list_end
      (call $scan (local.get $list) (i32.add (global.get $tok_ptr) (global.get $tok_len))
                  (i32.const 93)))
    (i32.ge_s
      (call $find (local.get $list) (i32.sub (local.get $list_end) (local.get $list))
        (call $quoted (local.get $aptr) (local.get $alen) (i32.const 1616) (i32.const 1))
        (i32.add (local.get $alen) (i32.const 2)))
      (i32.const 0)))

  (func (export "opa_eval") (param $reserved i32) (param $ep i32) (param $data i32)
      (param $input i32) (param $input_len i32) (param $heap_ptr i32) (param $format i32)
      (result i32)
    (local $allow i32) (local $start i32)
    (global.set $heap (local.get $heap_ptr))
    (local.set $allow (call $allowed (local.get $data) (local.get $input) (local.get $input_len)))
    (local.set $start (global.get $heap))
    (call $emit (i32.const 1088) (i32.const 11))
    (if (i32.eq (local.get $ep) (i32.const 1))
      (then
        (if (local.get $allow)
          (then (call $emit (i32.const 1136) (i32.const 4)))
          (else (call $emit (i32.const 1152) (i32.const 5)))))
      (else
        (if (local.get $allow)
          (then
            (call $emit (i32.const 1168) (i32.const 76))
            (call $emit (global.get $role_ptr) (global.get $role_len))
            (call $emit (i32.const 1248) (i32.const 186)))
          (else (call $emit (i32.const 1440) (i32.const 35))))))
    (call $emit (i32.const 1104) (i32.const 3))
    (local.get $start))

  ;; ---- static strings
  (data (i32.const 1024) "\22user\22:\22")  ;; USER, 8 bytes
  (data (i32.const 1040) "\22action\22:\22")  ;; ACTION, 10 bytes
  (data (i32.const 1056) "\22roles\22:{")  ;; ROLES, 9 bytes
  (data (i32.const 1072) "\22grants\22:{")  ;; GRANTS, 10 bytes
  (data (i32.const 1088) "[{\22result\22:")  ;; OPEN, 11 bytes
  (data (i32.const 1104) "}]\00")  ;; CLOSE, 3 bytes
  (data (i32.const 1120) "\00")  ;; NUL, 1 bytes
  (data (i32.const 1136) "true")  ;; TRUE, 4 bytes
  (data (i32.const 1152) "false")  ;; FALSE, 5 bytes
  (data (i32.const 1168) "{\22subtasks\22:[{\22name\22:\22grant_access\22,\22type\22:\22grant_access\22,\22params\22:{\22role\22:\22")  ;; ALLOW_A, 76 bytes
  (data (i32.const 1248) "\22},\22rule_id\22:\22rbac\22,\22rule_name\22:\22rbac_allow\22}],\22dag\22:[],\22rules\22:[{\22rule_id\22:\22rbac\22,\22rule_name\22:\22rbac_allow\22,\22rule_priority\22:100,\22weight\22:1.0,\22matched_conditions\22:2,\22emissions_count\22:1}]}")  ;; ALLOW_B, 186 bytes
  (data (i32.const 1440) "{\22subtasks\22:[],\22dag\22:[],\22rules\22:[]}")  ;; DENY, 35 bytes
  (data (i32.const 1488) "opa_malloc: failed\00")  ;; OOM, 19 bytes
  (data (i32.const 1520) "{\22app/rbac/decision\22:0,\22app/rbac/allow\22:1}")  ;; EPS, 42 bytes
  (data (i32.const 1568) "{}")  ;; BIS, 2 bytes
  (data (i32.const 1584) "\22:\22")  ;; KEY_END, 3 bytes
  (data (i32.const 1600) "\22:[")  ;; LIST_START, 3 bytes
  (data (i32.const 1616) "\22")  ;; QUOTE, 1 bytes
)
