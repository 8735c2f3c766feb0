"""An ABI 1.2 module that calls host builtins: entrypoint `call<N>` calls builtin id N with N
arguments, each the evaluation's input, and answers its result; a NULL result (the host's
"undefined") gives an empty result set, as OPA-compiled code does."""

from __future__ import annotations

from functools import cache

from tests.unit.wasm import wat

_CALLER = """
  (global (export "opa_wasm_abi_version") i32 (i32.const 1))
  (global (export "opa_wasm_abi_minor_version") i32 (i32.const 2))
  (func (export "opa_eval") (param $reserved i32) (param $ep i32) (param $data i32)
      (param $input i32) (param $input_len i32) (param $heap_ptr i32) (param $format i32)
      (result i32)
    (local $in i32) (local $v i32) (local $start i32)
    (global.set $heap (local.get $heap_ptr))
    (local.set $in (call $value (local.get $input) (local.get $input_len)))
    (block $done
      (if (i32.eq (local.get $ep) (i32.const 0)) (then
        (local.set $v (call $b0 (i32.const 0) (i32.const 0))) (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 1)) (then
        (local.set $v (call $b1 (i32.const 1) (i32.const 0) (local.get $in))) (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 2)) (then
        (local.set $v (call $b2 (i32.const 2) (i32.const 0) (local.get $in) (local.get $in)))
        (br $done)))
      (if (i32.eq (local.get $ep) (i32.const 3)) (then
        (local.set $v (call $b3 (i32.const 3) (i32.const 0)
          (local.get $in) (local.get $in) (local.get $in))) (br $done)))
      (local.set $v (call $b4 (i32.const 4) (i32.const 0)
        (local.get $in) (local.get $in) (local.get $in) (local.get $in))))
    (local.set $start (global.get $heap))
    (if (i32.eqz (local.get $v))
      (then (call $emit (i32.const {EMPTY}) (i32.const {EMPTY_LEN})) (return (local.get $start))))
    (call $emit (i32.const {OPEN}) (i32.const {OPEN_LEN}))
    (call $emit_value (local.get $v))
    (call $emit (i32.const {CLOSE}) (i32.const {CLOSE_LEN}))
    (local.get $start))
"""


@cache
def caller_wasm(*names: str) -> bytes:
    """`names[N]` is builtin id N, called by entrypoint `callN` with N arguments."""
    strings = {
        "OOM": "opa_malloc: failed",
        "EPS": wat._j({f"call{n}": n for n in range(5)}),
        "BIS": wat._j({name: index for index, name in enumerate(names)}),
        "EMPTY": "[]\0",
        "OPEN": '[{"result":',
        "CLOSE": "}]\0",
    }
    return wat.compile_wat(wat._with_strings(wat._PRELUDE + _CALLER, strings))
