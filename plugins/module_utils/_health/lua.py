# Copyright (c) gitops.kubernetes contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lua health scripts run as Argo CD runs them: Lua 5.1 semantics with goto (lupa's lua52, see LUA_RUNTIMES), the live object as the global `obj`,
the returned table's `status` and `message` as the verdict.

Sandbox: a script sees only a fresh environment per call: the base functions
that touch nothing outside the script (no load, loadstring, dofile, loadfile,
require, getfenv/setfenv, collectgarbage, coroutines), copies of string
(without string.dump), table and math, os.time / os.date / os.clock (Argo CD's
"safe os"), and a print that prints nothing (module output is JSON on stdout).
No io, os.execute, debug or package: no file, process or network access.
Bounds per call: an instruction budget checked by a count hook (and a wall-clock
limit checked by the same hook), and a memory ceiling above what the runtime
held before the call. Any failure is an Unknown health naming the script and
the error, never an exception. One runtime per thread (lupa runtimes are not
thread-safe), each compiling a script once.
"""

from __future__ import annotations

import importlib
import threading
import time
import traceback
from typing import Any

from ansible_collections.gitops.kubernetes.plugins.module_utils._health.model import HEALTH_ORDER, HEALTHY, UNKNOWN, Health

# Argo CD's gopher-lua is Lua 5.1 with goto. Lua 5.2 has goto and the same numbers (doubles: 5.3 would print 3.0
# for a float), and gets the 5.1 functions scripts use (unpack, table.getn, math.pow); plain 5.1 is the fallback.
LUA_RUNTIMES = ("lupa.lua52", "lupa.lua51")
lupa_runtime: Any = None
LUPA_IMPORT_ERROR: str | None = None
for _module in LUA_RUNTIMES:
    try:
        lupa_runtime = importlib.import_module(_module)
        break
    except ImportError:
        LUPA_IMPORT_ERROR = traceback.format_exc()
HAS_LUPA = lupa_runtime is not None
if HAS_LUPA:
    LUPA_IMPORT_ERROR = None

# about 0.1 to 0.5 s of Lua: Argo CD stops a script after 1 s
INSTRUCTION_LIMIT = 10_000_000
HOOK_EVERY = 10_000
TIME_LIMIT = 1.0
MEMORY_PER_CALL = 32 * 1024 * 1024
INVALID_STATUS = "Lua returned an invalid health status"

# trusted setup, run once per runtime; returns run(chunk, obj, limit, deadline) -> ok, result
_PRELUDE = r"""
local clock, sethook, pcall, error = os.clock, debug.sethook, pcall, error
local pairs, getmetatable, setmetatable = pairs, getmetatable, setmetatable
-- Lua 5.1 gives a function its environment with setfenv; 5.2 through the main chunk's first upvalue, _ENV
local set_environment = setfenv or function(chunk, env) debug.setupvalue(chunk, 1, env) end
local base = {"assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber", "tostring", "type",
              "unpack", "xpcall", "rawequal", "rawget", "rawset", "setmetatable", "getmetatable", "_VERSION"}
-- a fresh table per call that reads through to a library: a script's writes stay in its own call
local function library(source)
  return setmetatable({}, {__index = source, __metatable = false})
end
local string_lib, table_lib, math_lib = {}, {}, {}
for key, value in pairs(string) do
  if key ~= "dump" then string_lib[key] = value end
end
for key, value in pairs(table) do table_lib[key] = value end
for key, value in pairs(math) do math_lib[key] = value end
-- Lua 5.1 functions Argo CD's scripts use (gopher-lua is 5.1), where the runtime is 5.2
table_lib.getn = table_lib.getn or function(t) return #t end
table_lib.maxn = table_lib.maxn or function(t)
  local n = 0
  for key in pairs(t) do if type(key) == "number" and key > n then n = key end end
  return n
end
math_lib.pow = math_lib.pow or function(x, y) return x ^ y end
math_lib.mod = math_lib.mod or math.fmod
math_lib.log10 = math_lib.log10 or function(x) return math.log(x, 10) end
local unpack_function = unpack or table.unpack
local os_time, os_date = os.time, os.date
local globals = _G
-- scripts must not reach the shared string library through ("").x's metatable
getmetatable("").__metatable = false
local function environment(obj)
  local env = {}
  for _, name in pairs(base) do env[name] = globals[name] end
  env.unpack = unpack_function
  env.string = library(string_lib)
  env.table = library(table_lib)
  env.math = library(math_lib)
  env.os = {time = os_time, date = os_date, clock = clock}
  env.print = function() end
  env.obj = obj
  env._G = env
  return env
end
local compile = loadstring and function(source, name) return loadstring(source, name) end
  or function(source, name) return load(source, name, "t") end
local function run(chunk, obj, limit, seconds)
  local count = 0
  local deadline = clock() + seconds
  sethook(function()
    count = count + 1
    if count > limit or clock() > deadline then
      sethook()
      error("the script ran too long (more than " .. limit * %d .. " instructions or the time limit)", 0)
    end
  end, "", %d)
  set_environment(chunk, environment(obj))
  local ok, result = pcall(chunk)
  sethook()
  set_environment(chunk, nil)
  return ok, result
end
return run, function(source, name)
  local chunk, err = compile(source, name)
  return chunk or false, err or false
end
""" % (HOOK_EVERY, HOOK_EVERY)


class LuaError(Exception):
    """A script that cannot be compiled (raised when scripts are loaded, naming the script)."""


class _Runtime:
    """One Lua runtime (per thread) with its compiled scripts."""

    def __init__(self) -> None:
        kwargs: dict[str, Any] = {"register_eval": False, "register_builtins": False, "unpack_returned_tuples": True}
        try:
            self.lua = lupa_runtime.LuaRuntime(max_memory=0, **kwargs)
            self.limits_memory = True
        except (TypeError, lupa_runtime.LuaError):  # LuaJIT cannot limit memory
            self.lua = lupa_runtime.LuaRuntime(**kwargs)
            self.limits_memory = False
        self.run, self.loader = self.lua.execute(_PRELUDE)
        self.compiled: dict[str, Any] = {}
        # the python bridge object is of no use to a script and must not be reachable
        self.lua.execute("python = nil")

    def compile(self, source: str) -> Any:
        chunk = self.compiled.get(source)
        if chunk is None:
            chunk, error = self.loader(source, "=health.lua")  # Lua cuts long chunk names: the origin is added by us
            if chunk is False:
                raise LuaError(str(error))
            self.compiled[source] = chunk
        return chunk

    def to_lua(self, value: Any) -> Any:
        """JSON-like data as Lua tables (lists 1-based, null as nil), as Argo CD's decodeValue builds them."""
        if isinstance(value, (dict, list)):
            return self.lua.table_from(value, recursive=True)
        return value


_local = threading.local()


def _runtime() -> _Runtime:
    runtime = getattr(_local, "runtime", None)
    if runtime is None:
        runtime = _local.runtime = _Runtime()
    return runtime


def check_script(source: str) -> None:
    """Raise LuaError when the script does not compile (before anything runs); lupa must be there (HAS_LUPA)."""
    _runtime().compile(source)


def _field(table: Any, key: str) -> Any:
    try:
        return table[key]
    except (KeyError, TypeError):
        return None


def run_health_script(source: str, name: str, obj: dict[str, Any]) -> Health:
    """The verdict of one health.lua on one live object; every failure is Unknown with the error."""
    if not HAS_LUPA:
        return Health(UNKNOWN, f"{name}: Lua health scripts need the 'lupa' Python package (pip install lupa)")
    runtime = _runtime()
    try:
        chunk = runtime.compile(source)
        if runtime.limits_memory:
            runtime.lua.set_max_memory(MEMORY_PER_CALL, total=False)
        try:
            ok, result = runtime.run(chunk, runtime.to_lua(obj), INSTRUCTION_LIMIT // HOOK_EVERY, TIME_LIMIT)
        finally:
            if runtime.limits_memory:
                runtime.lua.set_max_memory(0)
    except lupa_runtime.LuaMemoryError:
        return Health(UNKNOWN, f"{name}: the script used more than {MEMORY_PER_CALL // (1024 * 1024)} MiB")
    except LuaError as exc:
        return Health(UNKNOWN, f"{name}: {exc}")
    except lupa_runtime.LuaError as exc:
        return Health(UNKNOWN, f"{name}: {exc}")
    if not ok:
        if "not enough memory" in str(result):
            return Health(UNKNOWN, f"{name}: the script used more than {MEMORY_PER_CALL // (1024 * 1024)} MiB")
        return Health(UNKNOWN, f"{name}: {result}")  # Lua's message names the line (health.lua:line: error)
    if result is None:
        # Argo CD: a script returning nothing gives an empty health, which never counts against the application
        return Health(HEALTHY, f"{name} returned no health")
    if lupa_runtime.lua_type(result) != "table":
        return Health(UNKNOWN, f"{name}: expect table output from Lua script, not {lupa_runtime.lua_type(result) or type(result).__name__}")
    status, message = _field(result, "status"), _field(result, "message")
    if status is None and message is None:
        return Health(HEALTHY, f"{name} returned no health")
    if status not in HEALTH_ORDER:
        return Health(UNKNOWN, INVALID_STATUS + (f": {status!r}" if status is not None else ""))
    return Health(str(status), "" if message is None else str(message))


def elapsed_per_object(source: str, objects: list[dict[str, Any]]) -> float:
    """Seconds per object for running one script over objects (for benchmarks)."""
    started = time.perf_counter()
    for obj in objects:
        run_health_script(source, "benchmark", obj)
    return (time.perf_counter() - started) / max(1, len(objects))
