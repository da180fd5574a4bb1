"""A pickle interpreter that can only build what a checkpoint is made of.

``pickle.Unpickler`` with a ``find_class`` allowlist is not a safe loader: BUILD can still call
``__setstate__`` or ``setattr`` on an allowlisted *class* (rewriting its methods for everyone),
SETITEM/APPEND work on any object with ``__setitem__``/``append``, and REDUCE can call whatever
``find_class`` handed out with any arguments. This interpreter runs every opcode itself:

- GLOBAL/STACK_GLOBAL resolve through a caller-given table only; the values it yields are
  inert markers (``Callable`` wrappers, dtypes, storage types), never the real Python builtins;
  the one exception is a ``Trusted`` answer: an object the user allowlisted
  (``ember.serialization.add_safe_globals``), pushed as itself;
- REDUCE/NEWOBJ call only ``Callable`` wrappers, each of which validates its own arguments, and
  the user's trusted globals (as torch does: the user vouched for them);
- BUILD works only on ``OrderedDict`` instances made during this load (the ``_metadata``
  attribute that ``Module.state_dict()`` carries), setting only plain, non-dunder attributes,
  and on instances whose exact type is a trusted global (``__setstate__`` or pickle's default);
- SETITEM(S)/APPEND(S)/ADDITEMS work only on exact ``dict``/``OrderedDict``/``list``/``set``;
- INST/OBJ/EXT*/PERSID and out-of-band buffers are refused;
- it walks the stream iteratively (no recursion) and checks every length against the bytes
  that remain, so a hostile file can neither run code nor make it allocate huge buffers.

torch's own weights_only unpickler follows the same idea (CVE-2025-32434 showed what an
incomplete one lets through).
"""
from __future__ import annotations

import struct
from collections import OrderedDict
from pickle import UnpicklingError
from typing import Any, Callable as _Fn

__all__ = ["Callable", "SafeUnpickler", "Trusted", "UnpicklingError"]


class Callable:
    """An allowlisted global that REDUCE/NEWOBJ may call; ``fn`` checks its own arguments."""

    __slots__ = ("qualname", "fn", "newobj")

    def __init__(self, qualname: str, fn: _Fn, newobj: bool = False):
        self.qualname = qualname
        self.fn = fn
        self.newobj = newobj

    def __repr__(self) -> str:
        return f"<allowlisted {self.qualname}>"


class Trusted:
    """A ``find_global`` answer for a user-allowlisted object: the unpickler pushes ``obj``
    itself and lets REDUCE/NEWOBJ call it and BUILD set state on its instances."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj


_MARK = object()
_MAX_PROTOCOL = 5


class SafeUnpickler:
    """Interpret one pickle from ``data[pos:]``.

    Args:
        data: the bytes holding the pickle (other bytes may follow it).
        find_global: ``(module, name) -> value``; raises ``UnpicklingError`` for names it refuses.
        persistent_load: called with the persistent id tuple (BINPERSID), or ``None`` to refuse.
        pos: where the pickle starts.
        trusted: user-allowlisted objects (see ``Trusted``); REDUCE/NEWOBJ may call them and
            BUILD may set state on instances of those that are classes.

    Example:
        >>> SafeUnpickler(pickle.dumps([1, 2], protocol=2), _no_globals).load()
        [1, 2]
    """

    def __init__(self, data, find_global, persistent_load=None, pos: int = 0,
                 trusted=()):
        self.data = memoryview(data).cast("B") if not isinstance(data, bytes) else data
        self.pos = pos
        self.find_global = find_global
        self.persistent_load = persistent_load
        # id -> object of the user's trusted globals (the dict keeps them alive).
        self.trusted: dict = {id(o): o for o in trusted}

    # ------------------------------------------------------------------ reading
    def _read(self, n: int) -> bytes:
        if n < 0:
            raise UnpicklingError("pickle data is corrupt: negative length")
        end = self.pos + n
        if end > len(self.data):
            raise UnpicklingError(f"pickle data was truncated: needed {n} bytes at offset "
                                  f"{self.pos}, the file has {len(self.data) - self.pos} left")
        b = bytes(self.data[self.pos:end])
        self.pos = end
        return b

    def _readline(self) -> bytes:
        data = self.data
        start = self.pos
        # Text arguments are short (numbers, module names); cap the scan so a stream without
        # newlines is rejected quickly.
        limit = min(len(data), start + 4096)
        i = start
        while i < limit:
            if data[i] == 10:
                self.pos = i + 1
                return bytes(data[start:i])
            i += 1
        raise UnpicklingError("pickle data is corrupt: unterminated text argument")

    def _u(self, fmt: str, n: int):
        return struct.unpack(fmt, self._read(n))[0]

    # ------------------------------------------------------------------ main loop
    def load(self) -> Any:
        stack: list = []
        metastack: list = []
        memo: dict = {}
        while True:
            if self.pos >= len(self.data):
                raise UnpicklingError("pickle data was truncated: no STOP opcode")
            op = self.data[self.pos]
            self.pos += 1
            try:
                handled = self._step(op, stack, metastack, memo)
            except UnpicklingError:
                raise
            except _Passthrough as e:
                raise e.error from None
            except (IndexError, KeyError, TypeError, ValueError, AttributeError,
                    OverflowError, RecursionError, struct.error, UnicodeDecodeError) as e:
                raise UnpicklingError(
                    f"pickle data is corrupt at offset {self.pos - 1} "
                    f"(opcode {bytes([op])!r}): {type(e).__name__}: {e}") from None
            if handled is _STOP:
                if len(stack) != 1 or metastack:
                    raise UnpicklingError("pickle data is corrupt: STOP with a malformed stack")
                return stack[0]

    def _pop_mark(self, stack, metastack) -> list:
        items = stack[:]
        if not metastack:
            raise UnpicklingError("pickle data is corrupt: no MARK on the stack")
        stack[:] = metastack.pop()
        return items

    def _step(self, op: int, stack: list, metastack: list, memo: dict):
        read = self._read
        c = chr(op)
        if c == "\x80":  # PROTO
            proto = read(1)[0]
            if proto > _MAX_PROTOCOL:
                raise UnpicklingError(f"unsupported pickle protocol: {proto}")
        elif c == "\x95":  # FRAME: framing is only a read hint
            read(8)
        elif c == ".":
            return _STOP
        elif c == "(":
            metastack.append(stack[:])
            stack.clear()
        elif c == "0":
            if stack:
                stack.pop()
            else:
                self._pop_mark(stack, metastack)
        elif c == "1":
            self._pop_mark(stack, metastack)
        elif c == "2":
            stack.append(stack[-1])
        # ---------------------------------------------------------------- numbers
        elif c == "N":
            stack.append(None)
        elif c == "\x88":
            stack.append(True)
        elif c == "\x89":
            stack.append(False)
        elif c == "J":
            stack.append(self._u("<i", 4))
        elif c == "K":
            stack.append(read(1)[0])
        elif c == "M":
            stack.append(self._u("<H", 2))
        elif c == "I":
            line = self._readline()
            if line == b"00":
                stack.append(False)
            elif line == b"01":
                stack.append(True)
            else:
                stack.append(int(line))
        elif c == "L":
            line = self._readline()
            stack.append(int(line[:-1] if line.endswith(b"L") else line))
        elif c == "\x8a":
            n = read(1)[0]
            stack.append(int.from_bytes(read(n), "little", signed=True))
        elif c == "\x8b":
            n = self._u("<i", 4)
            if n > 1 << 16:  # far beyond any number a checkpoint holds
                raise UnpicklingError(f"LONG4 of {n} bytes is too large")
            stack.append(int.from_bytes(read(n), "little", signed=True))
        elif c == "F":
            stack.append(float(self._readline()))
        elif c == "G":
            stack.append(self._u(">d", 8))
        # ---------------------------------------------------------------- strings
        elif c == "X":
            stack.append(str(read(self._u("<I", 4)), "utf-8", "surrogatepass"))
        elif c == "\x8c":
            stack.append(str(read(read(1)[0]), "utf-8", "surrogatepass"))
        elif c == "\x8d":
            stack.append(str(read(self._u("<Q", 8)), "utf-8", "surrogatepass"))
        elif c == "V":
            stack.append(str(self._readline(), "raw-unicode-escape"))
        elif c == "B":
            stack.append(read(self._u("<I", 4)))
        elif c == "C":
            stack.append(read(read(1)[0]))
        elif c == "\x8e":
            stack.append(read(self._u("<Q", 8)))
        elif c == "\x96":
            stack.append(bytearray(read(self._u("<Q", 8))))
        elif c in "TUS":  # Python 2 str (old torch checkpoints): text if it decodes
            if c == "T":
                raw = read(self._u("<i", 4))
            elif c == "U":
                raw = read(read(1)[0])
            else:
                raw = self._readline().strip()
                if len(raw) < 2 or raw[:1] != raw[-1:] or raw[:1] not in b"'\"":
                    raise UnpicklingError("pickle data is corrupt: bad STRING argument")
                raw = raw[1:-1]
            try:
                stack.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                stack.append(raw)
        # ---------------------------------------------------------------- containers
        elif c == "]":
            stack.append([])
        elif c == ")":
            stack.append(())
        elif c == "}":
            stack.append({})
        elif c == "\x8f":
            stack.append(set())
        elif c == "l":
            stack.append(self._pop_mark(stack, metastack))
        elif c == "t":
            stack.append(tuple(self._pop_mark(stack, metastack)))
        elif c == "\x85":
            stack[-1] = (stack[-1],)
        elif c == "\x86":
            stack[-2:] = [(stack[-2], stack[-1])]
        elif c == "\x87":
            stack[-3:] = [(stack[-3], stack[-2], stack[-1])]
        elif c == "d":
            items = self._pop_mark(stack, metastack)
            if len(items) % 2:
                raise UnpicklingError("pickle data is corrupt: odd number of DICT items")
            stack.append({items[i]: items[i + 1] for i in range(0, len(items), 2)})
        elif c == "\x91":
            stack.append(frozenset(self._pop_mark(stack, metastack)))
        elif c == "a":
            value = stack.pop()
            _target(stack[-1], list, "APPEND").append(value)
        elif c == "e":
            items = self._pop_mark(stack, metastack)
            _target(stack[-1], list, "APPENDS").extend(items)
        elif c == "s":
            value = stack.pop()
            key = stack.pop()
            _dict_target(stack[-1], "SETITEM")[key] = value
        elif c == "u":
            items = self._pop_mark(stack, metastack)
            if len(items) % 2:
                raise UnpicklingError("pickle data is corrupt: odd number of SETITEMS items")
            target = _dict_target(stack[-1], "SETITEMS")
            for i in range(0, len(items), 2):
                target[items[i]] = items[i + 1]
        elif c == "\x90":
            items = self._pop_mark(stack, metastack)
            _target(stack[-1], set, "ADDITEMS").update(items)
        # ---------------------------------------------------------------- memo
        elif c == "p":
            memo[int(self._readline())] = stack[-1]
        elif c == "q":
            memo[read(1)[0]] = stack[-1]
        elif c == "r":
            memo[self._u("<I", 4)] = stack[-1]
        elif c == "\x94":
            memo[len(memo)] = stack[-1]
        elif c in "ghj":
            idx = (int(self._readline()) if c == "g" else read(1)[0] if c == "h"
                   else self._u("<I", 4))
            if idx not in memo:
                raise UnpicklingError(f"pickle data is corrupt: memo key {idx} was never set")
            stack.append(memo[idx])
        # ---------------------------------------------------------------- objects
        elif c == "c":
            module = self._readline().decode("utf-8")
            name = self._readline().decode("utf-8")
            stack.append(self._global(module, name))
        elif c == "\x93":
            name = stack.pop()
            module = stack.pop()
            if type(module) is not str or type(name) is not str:
                raise UnpicklingError("pickle data is corrupt: STACK_GLOBAL needs two strings")
            stack.append(self._global(module, name))
        elif c == "R":
            args = stack.pop()
            func = stack[-1]
            if self._is_trusted(func):
                stack[-1] = func(*_args(args, "REDUCE"))
            else:
                stack[-1] = _call(func, args, "REDUCE")
        elif c == "\x81":
            args = stack.pop()
            cls = stack[-1]
            if self._is_trusted(cls) and isinstance(cls, type):
                stack[-1] = cls.__new__(cls, *_args(args, "NEWOBJ"))
            elif type(cls) is not Callable or not cls.newobj:
                raise UnpicklingError(f"NEWOBJ is not allowed on {_describe(cls)}")
            else:
                stack[-1] = _call(cls, args, "NEWOBJ")
        elif c == "\x92":
            kwargs = stack.pop()
            args = stack.pop()
            cls = stack[-1]
            if self._is_trusted(cls) and isinstance(cls, type) and type(kwargs) is dict:
                stack[-1] = cls.__new__(cls, *_args(args, "NEWOBJ_EX"), **kwargs)
            elif type(cls) is not Callable or not cls.newobj or kwargs:
                raise UnpicklingError(f"NEWOBJ_EX is not allowed on {_describe(cls)}")
            else:
                stack[-1] = _call(cls, args, "NEWOBJ_EX")
        elif c == "b":
            state = stack.pop()
            inst = stack[-1]
            if self._is_trusted(type(inst)):
                _build_trusted(inst, state)
            else:
                _build(inst, state)
        elif c == "Q":
            pid = stack.pop()
            if self.persistent_load is None:
                raise UnpicklingError("this pickle may not hold persistent ids (storages)")
            try:
                stack.append(self.persistent_load(pid))
            except UnpicklingError:
                raise
            except Exception as e:  # a map_location callable's or device error: as it is
                raise _Passthrough(e) from None
        else:
            names = {"i": "INST", "o": "OBJ", "P": "PERSID", "\x82": "EXT1", "\x83": "EXT2",
                     "\x84": "EXT4", "\x97": "NEXT_BUFFER", "\x98": "READONLY_BUFFER"}
            if c in names:
                raise UnpicklingError(f"Weights only load failed: opcode {names[c]} is not "
                                      "allowed in a checkpoint")
            raise UnpicklingError(f"pickle data is corrupt: unknown opcode {bytes([op])!r} at "
                                  f"offset {self.pos - 1}")
        return None

    def _global(self, module: str, name: str):
        try:
            v = self.find_global(module, name)
        except UnpicklingError:
            raise
        except Exception as e:  # the caller's own error (a malformed safe-globals entry)
            raise _Passthrough(e) from None
        if type(v) is Trusted:
            self.trusted[id(v.obj)] = v.obj
            return v.obj
        return v

    def _is_trusted(self, obj) -> bool:
        # By identity: an object equal to a trusted one is not trusted.
        t = self.trusted
        return id(obj) in t and t[id(obj)] is obj


_STOP = object()


class _Passthrough(Exception):
    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


def _describe(obj) -> str:
    if type(obj) is Callable:
        return obj.qualname
    return f"an object of type {type(obj).__name__}"


def _target(obj, kind, opname):
    # Exact type: a subclass (or an allowlisted class object) could run code in its methods.
    if type(obj) is not kind:
        raise UnpicklingError(f"Weights only load failed: {opname} on {_describe(obj)} is not "
                              "allowed")
    return obj


def _dict_target(obj, opname):
    if type(obj) is not dict and type(obj) is not OrderedDict:
        raise UnpicklingError(f"Weights only load failed: {opname} on {_describe(obj)} is not "
                              "allowed")
    return obj


def _call(func, args, opname):
    if type(func) is not Callable:
        raise UnpicklingError(f"Weights only load failed: {opname} may only call allowlisted "
                              f"globals, not {_describe(func)}")
    if type(args) is not tuple:
        raise UnpicklingError(f"pickle data is corrupt: {opname} arguments are not a tuple")
    return func.fn(*args)


def _args(args, opname) -> tuple:
    if type(args) is not tuple:
        raise UnpicklingError(f"pickle data is corrupt: {opname} arguments are not a tuple")
    return args


def _build_trusted(inst, state) -> None:
    """BUILD on an instance of a user-allowlisted class: what pickle itself does."""
    setstate = getattr(inst, "__setstate__", None)
    if setstate is not None:
        setstate(state)
        return
    slotstate = None
    if type(state) is tuple and len(state) == 2:
        state, slotstate = state
    if state:
        if type(state) is not dict:
            raise UnpicklingError("pickle data is corrupt: BUILD state is not a dict")
        inst.__dict__.update(state)
    if slotstate:
        if type(slotstate) is not dict:
            raise UnpicklingError("pickle data is corrupt: BUILD slot state is not a dict")
        for k, v in slotstate.items():
            setattr(inst, k, v)


def _build(inst, state):
    # The only BUILD a checkpoint needs: OrderedDict.__reduce__ passes the instance __dict__
    # (Module.state_dict()'s `_metadata`). Class objects and markers are never built.
    if type(inst) is not OrderedDict:
        raise UnpicklingError(f"Weights only load failed: BUILD on {_describe(inst)} is not "
                              "allowed")
    if type(state) is tuple and len(state) == 2 and state[1] is None:
        state = state[0]
    if state is None:
        return
    if type(state) is not dict:
        raise UnpicklingError("Weights only load failed: BUILD state of an OrderedDict must be "
                              "a dict")
    for k, v in state.items():
        if type(k) is not str or k.startswith("__"):
            raise UnpicklingError(f"Weights only load failed: BUILD may not set attribute {k!r}")
        inst.__dict__[k] = v
