"""The size LZF would compress a value to, for ``META size`` (docs/protocol.md §3.2).

The real server compresses values longer than ``compression`` bytes with
liblzf and keeps the compressed form only when it saves at least 4 bytes.
It always decompresses before replying, so the compressed bytes never reach
a client: only their length does (``META key size``), and the choice itself
(``META key encoding`` 1, MINC skipping the item, INC answering NaN). So
this module runs liblzf's compressor (HLOG 16, VERY_FAST, the settings the
server builds with) counting output bytes instead of writing them.

It is a byte-at-a-time loop in Python: about a microsecond and a half per
input byte that does not compress, much less for data that does. To keep
large random values from costing seconds, values over 16 KiB that zlib
cannot shrink by 1/64 are declared incompressible without running LZF: LZF
spends a byte per 32 literals, so to save anything its matches must save
more than 1/32 of the input, and deflate finds the same short-distance
matches and codes literals no worse. This shortcut is the one place where
the answer is a judgement rather than liblzf's exact result.
"""

import zlib

__all__ = ["compressed_size"]

_PRECHECK_MIN = 16384

_HLOG = 16
_HMASK = (1 << _HLOG) - 1
_MASK32 = 0xFFFFFFFF
_MAX_LIT = 1 << 5
_MAX_OFF = 1 << 13
_MAX_REF = (1 << 8) + (1 << 3)


def _slot(hval: int) -> int:
    # liblzf's VERY_FAST hash of the next three bytes.
    return ((hval >> (24 - _HLOG)) - hval * 5) & _HMASK


def compressed_size(data: bytes, budget: int) -> int:
    """The length of ``data`` compressed by liblzf, or 0 when the output
    would not fit in ``budget`` bytes (liblzf's own failure signal)."""
    in_end = len(data)
    if not in_end or budget <= 0:
        return 0
    if in_end > _PRECHECK_MIN and len(zlib.compress(data, 1)) > in_end - in_end // 64:
        return 0
    table = [-1] * (1 << _HLOG)
    ip = 0
    op = 1  # one byte reserved for the first literal run's header
    lit = 0
    hval = (data[0] << 8) | (data[1] if in_end > 1 else 0)
    while ip < in_end - 2:
        hval = ((hval << 8) | data[ip + 2]) & _MASK32
        slot = ((hval >> 8) - hval * 5) & _HMASK  # _slot(), inlined: hot loop
        ref = table[slot]
        table[slot] = ip
        # A reference at offset 0 is never used: liblzf tests ref > start.
        if (
            ref > 0
            and ip - ref - 1 < _MAX_OFF
            and data[ref + 2] == data[ip + 2]
            and data[ref] == data[ip]
            and data[ref + 1] == data[ip + 1]
        ):
            maxlen = in_end - ip - 2
            if maxlen > _MAX_REF:
                maxlen = _MAX_REF
            if op + 4 >= budget and op - (0 if lit else 1) + 4 >= budget:
                return 0
            if not lit:
                op -= 1  # drop the empty literal run
            length = 3
            if maxlen > 16:
                # liblzf checks 16 bytes unconditionally before looking
                # at maxlen again.
                while length <= 18 and data[ref + length] == data[ip + length]:
                    length += 1
                if length > 18:
                    while length < maxlen and data[ref + length] == data[ip + length]:
                        length += 1
            else:
                while length < maxlen and data[ref + length] == data[ip + length]:
                    length += 1
            length -= 2
            ip += 1
            op += 2 if length < 7 else 3  # back-reference
            lit = 0
            op += 1  # header of the next literal run
            ip += length + 1
            if ip >= in_end - 2:
                break
            # VERY_FAST re-hashes the last two positions of the match.
            ip -= 2
            hval = (data[ip] << 8) | data[ip + 1]
            hval = ((hval << 8) | data[ip + 2]) & _MASK32
            table[_slot(hval)] = ip
            ip += 1
            hval = ((hval << 8) | data[ip + 2]) & _MASK32
            table[_slot(hval)] = ip
            ip += 1
        else:
            if op >= budget:
                return 0
            lit += 1
            op += 1
            ip += 1
            if lit == _MAX_LIT:
                lit = 0
                op += 1
    if op + 3 > budget:
        return 0
    while ip < in_end:
        lit += 1
        op += 1
        ip += 1
        if lit == _MAX_LIT:
            lit = 0
            op += 1
    if not lit:
        op -= 1
    return op
