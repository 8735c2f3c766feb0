"""Small OPA Wasm ABI modules written in WebAssembly text, for the wasm engine's tests.

They follow the ABI's contracts without being Rego: a "value" is an 8-byte record
`{ptr, len}` of raw JSON text, `opa_json_parse` wraps the text in place and `opa_json_dump`
copies it out NUL-terminated. A bump allocator grows memory page by page and aborts with
"opa_malloc: failed" once the host's cap refuses. Static strings live from address 1024.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache

import wasmtime

_STATIC_BASE = 1024
_HEAP_BASE = 16384

DECISION = {
    "subtasks": [
        {
            "name": "escalate",
            "type": "escalate",
            "params": {"level": "high"},
            "rule_id": "r-vip",
            "rule_name": "vip_escalation",
        }
    ],
    "dag": [],
    "rules": [
        {
            "rule_id": "r-vip",
            "rule_name": "vip_escalation",
            "rule_priority": 100,
            "weight": 1.0,
            "matched_conditions": 1,
            "emissions_count": 1,
        }
    ],
}
NO_DECISION: dict[str, list[object]] = {"subtasks": [], "dag": [], "rules": []}

KITCHEN_ENTRYPOINTS = [
    "const", "echo_input", "echo_data", "decision", "undefined", "builtin0", "builtin1",
    "builtin2", "builtin3", "builtin4", "abort", "loop", "hog", "grow", "print", "uuid_twice",
    "is_valid", "split", "guarded",
]  # fmt: skip  # a name list: one per line would run 19 lines
KITCHEN_BUILTINS = [
    "time.now_ns", "upper", "sprintf", "replace", "time.add_date", "uuid.rfc4122",
    "json.is_valid", "regex.split",
]  # fmt: skip  # a name list: one per line would run 8 lines


def _j(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _with_strings(template: str, strings: dict[str, str]) -> str:
    """Lay `strings` out as data segments; `{NAME}`/`{NAME_LEN}` in `template` → offset/len."""
    offset = _STATIC_BASE
    segments, names = [], {}
    for name, text in strings.items():
        raw = text.encode()
        names[name], names[f"{name}_LEN"] = str(offset), str(len(raw))
        escaped = "".join(f"\\{byte:02x}" for byte in raw)
        segments.append(f'(data (i32.const {offset}) "{escaped}")')
        offset += len(raw) + 1  # keep a NUL after each, so any string is also a C string
    assert offset < _HEAP_BASE
    return template.format(**names) + "\n".join(segments) + "\n)"


_PRELUDE = """
(module
  (import "env" "memory" (memory 2))
  (import "env" "opa_abort" (func $abort (param i32)))
  (import "env" "opa_println" (func $println (param i32)))
  (import "env" "opa_builtin0" (func $b0 (param i32 i32) (result i32)))
  (import "env" "opa_builtin1" (func $b1 (param i32 i32 i32) (result i32)))
  (import "env" "opa_builtin2" (func $b2 (param i32 i32 i32 i32) (result i32)))
  (import "env" "opa_builtin3" (func $b3 (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "opa_builtin4" (func $b4 (param i32 i32 i32 i32 i32 i32) (result i32)))
  (global $heap (mut i32) (i32.const 16384))
  (func $malloc (export "opa_malloc") (param $n i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    (block $ok
      (loop $grow
        (br_if $ok (i32.le_u (local.get $end) (i32.mul (memory.size) (i32.const 65536))))
        (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
          (then (call $abort (i32.const {OOM})) (unreachable)))
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
  (func $emit_value (param $v i32)
    (call $emit (i32.load (local.get $v)) (i32.load offset=4 (local.get $v))))
  (func (export "opa_json_dump") (param $v i32) (result i32)
    (local $start i32)
    (local.set $start (global.get $heap))
    (call $emit_value (local.get $v))
    (call $emit (i32.const 0) (i32.const 1))
    (local.get $start))
  (func (export "entrypoints") (result i32) (call $value (i32.const {EPS}) (i32.const {EPS_LEN})))
  (func (export "builtins") (result i32) (call $value (i32.const {BIS}) (i32.const {BIS_LEN})))
"""

_KITCHEN = """
  (global (export "opa_wasm_abi_version") i32 (i32.const 1))
  (global (export "opa_wasm_abi_minor_version") i32 (i32.const 2))
  (func $contains (param $h i32) (param $hl i32) (param $n i32) (param $nl i32) (result i32)
    (local $i i32) (local $j i32)
    (if (i32.gt_u (local.get $nl) (local.get $hl)) (then (return (i32.const 0))))
    (loop $outer
      (local.set $j (i32.const 0))
      (block $mismatch
        (loop $inner
          (br_if $mismatch
            (i32.ne (i32.load8_u (i32.add (local.get $h) (i32.add (local.get $i) (local.get $j))))
                    (i32.load8_u (i32.add (local.get $n) (local.get $j)))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $inner (i32.lt_u (local.get $j) (local.get $nl))))
        (return (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $outer (i32.le_u (local.get $i) (i32.sub (local.get $hl) (local.get $nl)))))
    (i32.const 0))
  (func $u32 (param $v i32) (result i32)
    (local $p i32)
    (local.set $p (i32.const 528))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $v) (i32.const 10))))
      (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
      (br_if $digit (local.get $v)))
    (call $value (local.get $p) (i32.sub (i32.const 528) (local.get $p))))
  (func $s (param $ptr i32) (param $len i32) (result i32)
    (call $value (local.get $ptr) (local.get $len)))
  (func $pair (param $a i32) (param $b i32) (result i32)
    (local $start i32)
    (local.set $start (global.get $heap))
    (call $emit (i32.const {LBRACKET}) (i32.const 1))
    (call $emit_value (local.get $a))
    (call $emit (i32.const {COMMA}) (i32.const 1))
    (call $emit_value (local.get $b))
    (call $emit (i32.const {RBRACKET}) (i32.const 1))
    (call $value (local.get $start) (i32.sub (global.get $heap) (local.get $start))))
  ;; each entrypoint computes its value first (builtins allocate), then the result set is emitted
  (func (export "opa_eval") (param $reserved i32) (param $ep i32) (param $data i32)
      (param $input i32) (param $input_len i32) (param $heap_ptr i32) (param $format i32)
      (result i32)
    (local $start i32) (local $v i32) (local $k i32)
    (global.set $heap (local.get $heap_ptr))
    (if (i32.eq (local.get $ep) (i32.const 4)) (then
      (local.set $start (global.get $heap))
      (call $emit (i32.const {EMPTY}) (i32.const {EMPTY_LEN}))
      (return (local.get $start))))
    (block $done
      (if (i32.eq (local.get $ep) (i32.const 0)) (then
        (local.set $v (call $s (i32.const {TRUE}) (i32.const {TRUE_LEN}))) (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 1)) (then
        (local.set $v (call $value (local.get $input) (local.get $input_len))) (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 2)) (then (local.set $v (local.get $data)) (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 3)) (then
        (if (call $contains (local.get $input) (local.get $input_len)
                            (i32.const {VIP}) (i32.const {VIP_LEN}))
          (then (local.set $v (call $s (i32.const {DECISION}) (i32.const {DECISION_LEN}))))
          (else (local.set $v (call $s (i32.const {NODEC}) (i32.const {NODEC_LEN})))))
        (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 5)) (then
        (local.set $v (call $b0 (i32.const 0) (i32.const 0))) (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 6)) (then
        (local.set $v (call $b1 (i32.const 1) (i32.const 0)
          (call $s (i32.const {PKG}) (i32.const {PKG_LEN})))) (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 7)) (then
        (local.set $v (call $b2 (i32.const 2) (i32.const 0)
          (call $s (i32.const {FMT}) (i32.const {FMT_LEN}))
          (call $s (i32.const {FMTARGS}) (i32.const {FMTARGS_LEN})))) (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 8)) (then
        (local.set $v (call $b3 (i32.const 3) (i32.const 0)
          (call $s (i32.const {ABC}) (i32.const {ABC_LEN}))
          (call $s (i32.const {DASH}) (i32.const {DASH_LEN}))
          (call $s (i32.const {PLUS}) (i32.const {PLUS_LEN})))) (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 9)) (then
        (local.set $v (call $b4 (i32.const 4) (i32.const 0)
          (call $s (i32.const {ZERO}) (i32.const {ZERO_LEN}))
          (call $s (i32.const {ONE}) (i32.const {ONE_LEN}))
          (call $s (i32.const {TWO}) (i32.const {TWO_LEN}))
          (call $s (i32.const {THREE}) (i32.const {THREE_LEN})))) (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 10)) (then
        (call $abort (i32.const {NO})) (unreachable)))
      (if (i32.eq (local.get $ep) (i32.const 11)) (then (loop $forever (br $forever))))
      (if (i32.eq (local.get $ep) (i32.const 12)) (then
        (loop $more (drop (call $malloc (i32.const 65536))) (br $more))))
      (if (i32.eq (local.get $ep) (i32.const 13)) (then
        (block $full (loop $grow
          (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1))) (br $grow)))
        (local.set $v (call $u32 (memory.size))) (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 14)) (then
        (call $println (i32.const {HELLO}))
        (local.set $v (call $s (i32.const {TRUE}) (i32.const {TRUE_LEN}))) (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 15)) (then
        (local.set $k (call $s (i32.const {KEY}) (i32.const {KEY_LEN})))
        (local.set $v (call $pair
          (call $b1 (i32.const 5) (i32.const 0) (local.get $k))
          (call $b1 (i32.const 5) (i32.const 0) (local.get $k)))) (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 16)) (then
        (local.set $v (call $b1 (i32.const 6) (i32.const 0)
          (call $s (i32.const {JSONTEXT}) (i32.const {JSONTEXT_LEN})))) (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 17)) (then
        (local.set $v (call $b2 (i32.const 7) (i32.const 0)
          (call $s (i32.const {PATTERN}) (i32.const {PATTERN_LEN}))
          (call $s (i32.const {SPLITME}) (i32.const {SPLITME_LEN})))) (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 18)) (then
        (if (call $contains (local.get $input) (local.get $input_len)
                            (i32.const {LOOPTAG}) (i32.const {LOOPTAG_LEN}))
          (then (loop $spin (br $spin))))
        (if (call $contains (local.get $input) (local.get $input_len)
                            (i32.const {ABORTTAG}) (i32.const {ABORTTAG_LEN}))
          (then (call $abort (i32.const {NO})) (unreachable)))
        (if (call $contains (local.get $input) (local.get $input_len)
                            (i32.const {TRAPTAG}) (i32.const {TRAPTAG_LEN}))
          (then (unreachable)))
        (local.set $v (call $value (local.get $input) (local.get $input_len))) (br $done)))
      (call $abort (i32.const {BADEP})) (unreachable))
    (local.set $start (global.get $heap))
    (call $emit (i32.const {OPEN}) (i32.const {OPEN_LEN}))
    (call $emit_value (local.get $v))
    (call $emit (i32.const {CLOSE}) (i32.const {CLOSE_LEN}))
    (local.get $start))
"""

_COMMON_STRINGS = {"OOM": "opa_malloc: failed"}


def _ids(names: list[str]) -> str:
    return _j({name: index for index, name in enumerate(names)})


@cache
def kitchen_wat() -> str:
    """ABI 1.2 with `opa_eval`: one entrypoint per behaviour (see `KITCHEN_ENTRYPOINTS`)."""
    strings = {
        **_COMMON_STRINGS,
        "EPS": _ids(KITCHEN_ENTRYPOINTS),
        "BIS": _ids(KITCHEN_BUILTINS),
        "EMPTY": "[]\0",
        "OPEN": '[{"result":',
        "CLOSE": "}]\0",
        "TRUE": "true",
        "VIP": '"vip"',
        "DECISION": _j(DECISION),
        "NODEC": _j(NO_DECISION),
        "PKG": '"pkg"',
        "FMT": '"%s scored %.2f (%d) %v%%"',
        "FMTARGS": '["ann",3.14159,7,{"k":[1,true]}]',
        "ABC": '"a-b-c"',
        "DASH": '"-"',
        "PLUS": '"+"',
        "ZERO": "0",
        "ONE": "1",
        "TWO": "2",
        "THREE": "3",
        "NO": "policy said no",
        "HELLO": "hello from policy",
        "KEY": '"order-1"',
        "LBRACKET": "[",
        "COMMA": ",",
        "RBRACKET": "]",
        "JSONTEXT": '"{\\"a\\": [1, 2]}"',
        "PATTERN": '"[,;] *"',
        "SPLITME": '"a, b;c"',
        "BADEP": "unknown entrypoint",
        "LOOPTAG": '"loop"',
        "ABORTTAG": '"abort"',
        "TRAPTAG": '"trap"',
    }
    return _with_strings(_PRELUDE + _KITCHEN, strings)


_CONTEXT = """
  {GLOBALS}
  (func (export "opa_eval_ctx_new") (result i32) (call $malloc (i32.const 16)))
  (func (export "opa_eval_ctx_set_input") (param $c i32) (param $v i32)
    (i32.store (local.get $c) (local.get $v)))
  (func (export "opa_eval_ctx_set_data") (param $c i32) (param $v i32)
    (i32.store offset=4 (local.get $c) (local.get $v)))
  (func (export "opa_eval_ctx_set_entrypoint") (param $c i32) (param $e i32)
    (i32.store offset=8 (local.get $c) (local.get $e)))
  (func (export "opa_eval_ctx_get_result") (param $c i32) (result i32)
    (i32.load offset=12 (local.get $c)))
  (func (export "eval") (param $c i32) (result i32)
    (local $start i32)
    (local.set $start (global.get $heap))
    (call $emit (i32.const {OPEN}) (i32.const {OPEN_LEN}))
    (if (i32.load offset=8 (local.get $c))
      (then (call $emit (i32.const {TRUE}) (i32.const {TRUE_LEN})))
      (else
        (call $emit (i32.const {INPUTKEY}) (i32.const {INPUTKEY_LEN}))
        (call $emit_value (i32.load (local.get $c)))
        (call $emit (i32.const {DATAKEY}) (i32.const {DATAKEY_LEN}))
        (call $emit_value (i32.load offset=4 (local.get $c)))
        (call $emit (i32.const {RBRACE}) (i32.const 1))))
    (call $emit (i32.const {CLOSE}) (i32.const {CLOSE_LEN}))
    (i32.store offset=12 (local.get $c)
      (call $value (local.get $start) (i32.sub (global.get $heap) (local.get $start))))
    (i32.const 0))
"""


def context_wat(
    *, minor: int | None = 1, builtins: list[str] | None = None, binding: str = "result"
) -> str:
    """No `opa_eval`: the eval-context calls. Entrypoints `ctx/echo` (→ {input, data}) and
    `ctx/const` (→ true). `minor=None` leaves out the ABI globals (a 1.0 module); `binding`
    names the result set's variable (older OPA releases bound `x`)."""
    globals_ = (
        ""
        if minor is None
        else '(global (export "opa_wasm_abi_version") i32 (i32.const 1))\n'
        f'  (global (export "opa_wasm_abi_minor_version") i32 (i32.const {minor}))'
    )
    strings = {
        **_COMMON_STRINGS,
        "EPS": _ids(["ctx/echo", "ctx/const"]),
        "BIS": _ids(builtins or []),
        "OPEN": f'[{{"{binding}":',
        "CLOSE": "}]",
        "TRUE": "true",
        "INPUTKEY": '{"input":',
        "DATAKEY": ',"data":',
        "RBRACE": "}",
    }
    return _with_strings(_PRELUDE + _CONTEXT.replace("{GLOBALS}", globals_), strings)


def unknown_builtin_wat() -> str:
    """A module whose `builtins()` names one PKG does not implement."""
    return context_wat(builtins=["sprintf", "crypto.x509.parse_certificates"])


def compile_wat(text: str) -> bytes:
    return bytes(wasmtime.wat2wasm(text))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@cache
def kitchen_wasm() -> bytes:
    return compile_wat(kitchen_wat())
