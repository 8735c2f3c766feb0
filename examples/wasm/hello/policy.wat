;; A tiny policy written by hand in WebAssembly text, speaking the OPA Wasm ABI 1.2: the same
;; exports a module built with `opa build -t wasm` has, so PKG's wasm engine runs it as it runs
;; OPA's. It decides on the raw input JSON: a task tagged "vip" gets a `welcome_vip` subtask, a
;; task tagged "guest" gets `welcome`, anything else nothing.
;;
;; Values follow the ABI's contracts without being Rego's: a value is an 8-byte record
;; {ptr, len} of JSON text; opa_json_parse wraps text in place, opa_json_dump copies it out
;; NUL-terminated. Static strings are NUL-terminated too, so no length is counted by hand.
(module
  (import "env" "memory" (memory 2))
  (import "env" "opa_abort" (func $abort (param i32)))

  (global (export "opa_wasm_abi_version") i32 (i32.const 1))
  (global (export "opa_wasm_abi_minor_version") i32 (i32.const 2))

  ;; ---- static strings (from address 1024) ------------------------------------------------
  (data (i32.const 1024) "{\22hello/decision\22:0}\00")                         ;; entrypoints
  (data (i32.const 1100) "{}\00")                                               ;; builtins
  (data (i32.const 1110) "opa_malloc: out of memory\00")
  (data (i32.const 1140) "[{\22result\22:\00")
  (data (i32.const 1160) "}]\00")
  (data (i32.const 1170) "\22vip\22\00")
  (data (i32.const 1180) "\22guest\22\00")
  (data (i32.const 1200)
    "{\22subtasks\22:[{\22name\22:\22welcome_vip\22,\22type\22:\22welcome\22,"
    "\22params\22:{\22gift\22:\22champagne\22},\22rule_id\22:\22hello-vip\22,"
    "\22rule_name\22:\22welcome_vip\22}],\22dag\22:[],\22rules\22:[{\22rule_id\22:"
    "\22hello-vip\22,\22rule_name\22:\22welcome_vip\22,\22rule_priority\22:200,"
    "\22weight\22:1.0,\22matched_conditions\22:1,\22emissions_count\22:1}]}\00")
  (data (i32.const 1700)
    "{\22subtasks\22:[{\22name\22:\22welcome\22,\22type\22:\22welcome\22,"
    "\22params\22:{\22gift\22:\22none\22},\22rule_id\22:\22hello-guest\22,"
    "\22rule_name\22:\22welcome_guest\22}],\22dag\22:[],\22rules\22:[{\22rule_id\22:"
    "\22hello-guest\22,\22rule_name\22:\22welcome_guest\22,\22rule_priority\22:100,"
    "\22weight\22:1.0,\22matched_conditions\22:1,\22emissions_count\22:1}]}\00")
  (data (i32.const 2200) "{\22subtasks\22:[],\22dag\22:[],\22rules\22:[]}\00")

  ;; ---- a bump allocator: the host resets the heap pointer after every evaluation ---------
  (global $heap (mut i32) (i32.const 16384))
  (func $malloc (export "opa_malloc") (param $n i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $fits
      (loop $grow
        (br_if $fits (i32.le_u (local.get $end) (i32.mul (memory.size) (i32.const 65536))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
          (then (call $abort (i32.const 1110)) (unreachable)))
        (br $grow)))
    (global.set $heap (local.get $end))
    (local.get $p))
  (func (export "opa_free") (param i32))
  (func (export "opa_heap_ptr_get") (result i32) (global.get $heap))
  (func (export "opa_heap_ptr_set") (param i32) (global.set $heap (local.get 0)))

  ;; ---- strings and values ------------------------------------------------------------------
  (func $strlen (param $s i32) (result i32)
    (local $i i32)
    (block $end (loop $next
      (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $s) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $i))
  (func $value (param $ptr i32) (param $len i32) (result i32)
    (local $v i32)
    (local.set $v (call $malloc (i32.const 8)))
    (i32.store (local.get $v) (local.get $ptr))
    (i32.store offset=4 (local.get $v) (local.get $len))
    (local.get $v))
  (func $cvalue (param $s i32) (result i32)
    (call $value (local.get $s) (call $strlen (local.get $s))))
  (func $emit (param $ptr i32) (param $len i32)
    (memory.copy (call $malloc (local.get $len)) (local.get $ptr) (local.get $len)))
  (func $emit_c (param $s i32)
    (call $emit (local.get $s) (call $strlen (local.get $s))))
  (func (export "opa_json_parse") (param $ptr i32) (param $len i32) (result i32)
    (call $value (local.get $ptr) (local.get $len)))
  (func (export "opa_json_dump") (param $v i32) (result i32)
    (local $start i32)
    (local.set $start (global.get $heap))
    (call $emit (i32.load (local.get $v)) (i32.load offset=4 (local.get $v)))
    (call $emit (i32.const 0) (i32.const 1))  ;; address 0 holds a zero byte: the NUL
    (local.get $start))
  (func (export "entrypoints") (result i32) (call $cvalue (i32.const 1024)))
  (func (export "builtins") (result i32) (call $cvalue (i32.const 1100)))

  ;; does text[0..len) contain the NUL-terminated needle?
  (func $contains (param $text i32) (param $len i32) (param $needle i32) (result i32)
    (local $n i32) (local $i i32) (local $j i32)
    (local.set $n (call $strlen (local.get $needle)))
    (if (i32.gt_u (local.get $n) (local.get $len)) (then (return (i32.const 0))))
    (loop $at
      (local.set $j (i32.const 0))
      (block $differs
        (loop $compare
          (br_if $differs
            (i32.ne
              (i32.load8_u (i32.add (local.get $text) (i32.add (local.get $i) (local.get $j))))
              (i32.load8_u (i32.add (local.get $needle) (local.get $j)))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $compare (i32.lt_u (local.get $j) (local.get $n))))
        (return (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $at (i32.le_u (local.get $i) (i32.sub (local.get $len) (local.get $n)))))
    (i32.const 0))

  ;; ---- the ABI 1.2 one-shot evaluation: input JSON in, result set `[{"result": ...}]` out --
  (func (export "opa_eval") (param $reserved i32) (param $entrypoint i32) (param $data i32)
      (param $input i32) (param $input_len i32) (param $heap_ptr i32) (param $format i32)
      (result i32)
    (local $decision i32) (local $start i32)
    (global.set $heap (local.get $heap_ptr))
    (local.set $decision (i32.const 2200))
    (if (call $contains (local.get $input) (local.get $input_len) (i32.const 1180))
      (then (local.set $decision (i32.const 1700))))
    (if (call $contains (local.get $input) (local.get $input_len) (i32.const 1170))
      (then (local.set $decision (i32.const 1200))))
    (local.set $start (global.get $heap))
    (call $emit_c (i32.const 1140))
    (call $emit_c (local.get $decision))
    (call $emit_c (i32.const 1160))
    (call $emit (i32.const 0) (i32.const 1))
    (local.get $start))
)
