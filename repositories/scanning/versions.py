"""Version ordering of each package ecosystem, as each one documents it.

One entry point, :func:`compare` (``-1``, ``0`` or ``1``), picks the rules from the OSV ecosystem
name (the part before the first ``:``, so ``"Debian:12"`` orders like ``"Debian"``):

- dpkg (Debian, Ubuntu): Debian Policy 5.6.12 — ``[epoch:]upstream[-revision]``; non-digit runs
  compare character by character with ``~`` before everything (even the end of the string) and
  letters before non-letters; digit runs compare numerically.
- apk (Alpine): ``digits{.digits}[letter]{_suffix[N]}[-rN]``; ``_alpha < _beta < _pre < _rc <``
  (no suffix) ``< _cvs < _svn < _git < _hg < _p``; ``-rN`` is the package revision.
- rpm (Red Hat, Rocky Linux, AlmaLinux, SUSE): ``[epoch:]version[-release]``, each part compared
  with rpmvercmp (alphanumeric segments, digits beat letters, ``~`` sorts before anything and
  ``^`` after the base version but before any other addition).
- PEP 440 (PyPI) through ``packaging.version``.
- SemVer 2.0 (npm, Go with its ``v`` prefix, pseudo-versions and ``+incompatible``): build
  metadata is ignored, pre-release identifiers compare numerically or in ASCII order.
- Maven: ``ComparableVersion`` — ``alpha < beta < milestone < rc = cr < snapshot < "" = ga =
  final = release < sp``, unknown qualifiers after the known ones; ``-`` opens a sub-list.

A version that does not follow its ecosystem's grammar still compares (by a generic
digits-and-letters ordering) instead of raising: vulnerability data from the wild is not always
well formed, and a scan must not fail because one record is odd.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from packaging.version import InvalidVersion, Version

# -- dpkg ----------------------------------------------------------------------------------------


def _dpkg_order(c: str) -> int:
    """The weight of one character of a non-digit run (dpkg's ``order()``)."""
    if c == "~":
        return -1
    if c.isdigit():
        return 0
    if c.isascii() and c.isalpha():
        return ord(c)
    return ord(c) + 256


def _dpkg_verrevcmp(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        # the non-digit prefix of each, character by character; the end of a string weighs 0,
        # which is why "1.0~rc1" (a "~" of weight -1 against the end) sorts before "1.0"
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _dpkg_order(a[i]) if i < len(a) else 0
            bc = _dpkg_order(b[j]) if j < len(b) else 0
            if ac != bc:
                return -1 if ac < bc else 1
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return -1 if first_diff < 0 else 1
    return 0


def _dpkg_split(version: str) -> tuple[int, str, str]:
    version = version.strip()
    epoch = 0
    if ":" in version:
        head, rest = version.split(":", 1)
        if head.isdigit():
            epoch, version = int(head), rest
    upstream, _, revision = version.rpartition("-")
    if not upstream:  # no hyphen: all of it is the upstream version
        upstream, revision = revision, ""
    return epoch, upstream, revision


def compare_dpkg(a: str, b: str) -> int:
    """Debian Policy 5.6.12 ordering of two package versions."""
    ea, ua, ra = _dpkg_split(a)
    eb, ub, rb = _dpkg_split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _dpkg_verrevcmp(ua, ub) or _dpkg_verrevcmp(ra, rb)


# -- rpm -----------------------------------------------------------------------------------------


def rpmvercmp(a: str, b: str) -> int:
    """rpm's segment-wise comparison of one version or release string."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and not a[i].isalnum() and a[i] not in "~^":
            i += 1
        while j < len(b) and not b[j].isalnum() and b[j] not in "~^":
            j += 1
        ca = a[i] if i < len(a) else ""
        cb = b[j] if j < len(b) else ""
        # "~" sorts before everything, even the end of the string
        if ca == "~" or cb == "~":
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i += 1
            j += 1
            continue
        # "^" sorts after the end of the string but before any other addition
        if ca == "^" or cb == "^":
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i += 1
            j += 1
            continue
        if not (ca and cb):
            break
        si, sj = i, j
        if ca.isdigit():
            while i < len(a) and a[i].isdigit():
                i += 1
            while j < len(b) and b[j].isdigit():
                j += 1
            numeric = True
        else:
            while i < len(a) and a[i].isascii() and a[i].isalpha():
                i += 1
            while j < len(b) and b[j].isascii() and b[j].isalpha():
                j += 1
            numeric = False
        seg_a, seg_b = a[si:i], b[sj:j]
        if not seg_b:  # segments of different kinds: a number is newer than letters
            return 1 if numeric else -1
        if numeric:
            seg_a, seg_b = seg_a.lstrip("0"), seg_b.lstrip("0")
            if len(seg_a) != len(seg_b):
                return 1 if len(seg_a) > len(seg_b) else -1
        if seg_a != seg_b:
            return 1 if seg_a > seg_b else -1
    if i >= len(a) and j >= len(b):
        return 0
    return 1 if i < len(a) else -1


def _rpm_split(evr: str) -> tuple[int, str, str | None]:
    evr = evr.strip()
    epoch = 0
    if ":" in evr:
        head, rest = evr.split(":", 1)
        if head.isdigit():
            epoch, evr = int(head), rest
    version, sep, release = evr.rpartition("-")
    if not sep:
        return epoch, release, None
    return epoch, version, release


def compare_rpm(a: str, b: str) -> int:
    """rpm's ``[epoch:]version[-release]`` ordering (a missing epoch is 0; a release missing on
    either side is not compared, as rpm does for a dependency without one)."""
    ea, va, ra = _rpm_split(a)
    eb, vb, rb = _rpm_split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    result = rpmvercmp(va, vb)
    if result or ra is None or rb is None:
        return result
    return rpmvercmp(ra, rb)


# -- apk -----------------------------------------------------------------------------------------

_APK_PRE = ("alpha", "beta", "pre", "rc")
_APK_POST = ("cvs", "svn", "git", "hg", "p")
# token kinds in apk's order: the kind that comes later in a version sorts lower at a mismatch
(_T_INVALID, _T_DIGIT_OR_ZERO, _T_DIGIT, _T_LETTER, _T_SUFFIX, _T_SUFFIX_NO, _T_REVISION_NO, _T_END) = range(-1, 7)


class _ApkTokens:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.kind = _T_DIGIT

    def _next_kind(self) -> None:
        t, p = self.text, self.pos
        if p >= len(t):
            self.kind = _T_END
            return
        c = t[p]
        if self.kind in (_T_DIGIT, _T_DIGIT_OR_ZERO) and c.islower():
            self.kind = _T_LETTER
        elif self.kind == _T_LETTER and c.isdigit():
            self.kind = _T_DIGIT
        elif self.kind == _T_SUFFIX and c.isdigit():
            self.kind = _T_SUFFIX_NO
        elif c == ".":
            self.kind, self.pos = _T_DIGIT_OR_ZERO, p + 1
        elif c == "_":
            self.kind, self.pos = _T_SUFFIX, p + 1
        elif c == "-" and t[p + 1 : p + 2] == "r":
            self.kind, self.pos = _T_REVISION_NO, p + 2
        else:
            self.kind = _T_INVALID

    def peek_suffix(self) -> int:
        """The value of the suffix about to be read (negative for a pre-release), not consumed."""
        word = re.match(r"[a-z]*", self.text[self.pos :]).group(0)  # type: ignore[union-attr]
        if word in _APK_PRE:
            return _APK_PRE.index(word) - len(_APK_PRE)
        return _APK_POST.index(word) + 1 if word in _APK_POST else -1

    def take(self) -> int:
        """The value of the current token; moves ``kind`` on to the next one."""
        t, p, value = self.text, self.pos, 0
        if self.kind == _T_DIGIT_OR_ZERO and p < len(t) and t[p] == "0":
            # a component after "." with leading zeros compares as a fraction: 1.01 < 1.1
            start = p
            while p < len(t) and t[p] == "0":
                p += 1
            self.pos, self.kind, value = p, _T_DIGIT, start - p
            return value
        if self.kind in (_T_DIGIT_OR_ZERO, _T_DIGIT, _T_SUFFIX_NO, _T_REVISION_NO):
            start = p
            while p < len(t) and t[p].isdigit():
                p += 1
            value = int(t[start:p]) if p > start else 0
        elif self.kind == _T_LETTER:
            value, p = ord(t[p]), p + 1
        elif self.kind == _T_SUFFIX:
            start = p
            while p < len(t) and t[p].islower():
                p += 1
            word = t[start:p]
            if word in _APK_PRE:
                value = _APK_PRE.index(word) - len(_APK_PRE)
            elif word in _APK_POST:
                value = _APK_POST.index(word) + 1
            else:
                self.pos, self.kind = p, _T_INVALID
                return -1
        else:
            self.kind = _T_INVALID
            return -1
        self.pos = p
        self._next_kind()
        return value


def compare_apk(a: str, b: str) -> int:
    """Alpine's apk ordering of two package versions."""
    ta, tb = _ApkTokens(a.strip()), _ApkTokens(b.strip())
    va = vb = 0
    while ta.kind == tb.kind and ta.kind not in (_T_END, _T_INVALID) and va == vb:
        va, vb = ta.take(), tb.take()
    if va != vb:
        return -1 if va < vb else 1
    if ta.kind == tb.kind:
        return 0
    # equal so far and one goes on: the longer is newer unless it continues with a pre-release
    if ta.kind == _T_SUFFIX and ta.peek_suffix() < 0:
        return -1
    if tb.kind == _T_SUFFIX and tb.peek_suffix() < 0:
        return 1
    if ta.kind > tb.kind:
        return -1
    if tb.kind > ta.kind:
        return 1
    return 0


# -- SemVer --------------------------------------------------------------------------------------

_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)


def _semver_key(version: str) -> tuple[tuple[int, int, int], tuple[str, ...] | None] | None:
    m = _SEMVER.match(version.strip())
    if not m:
        return None
    core = (int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0))
    pre = tuple(m.group(4).split(".")) if m.group(4) else None
    return core, pre


def _semver_ident_cmp(x: str, y: str) -> int:
    xn, yn = x.isdigit(), y.isdigit()
    if xn and yn:
        return (int(x) > int(y)) - (int(x) < int(y))
    if xn != yn:  # numeric identifiers have lower precedence than alphanumeric ones
        return -1 if xn else 1
    return (x > y) - (x < y)


def compare_semver(a: str, b: str) -> int:
    """SemVer 2.0 precedence (a leading ``v`` as Go writes it is allowed, build metadata ignored;
    a missing minor or patch counts as 0, as npm's loose ranges do)."""
    ka, kb = _semver_key(a), _semver_key(b)
    if ka is None or kb is None:
        return compare_generic(a, b)
    if ka[0] != kb[0]:
        return -1 if ka[0] < kb[0] else 1
    pa, pb = ka[1], kb[1]
    if pa is None or pb is None:  # a pre-release sorts before its release
        return 0 if pa == pb else (-1 if pb is None else 1)
    for x, y in zip(pa, pb):
        result = _semver_ident_cmp(x, y)
        if result:
            return result
    return (len(pa) > len(pb)) - (len(pa) < len(pb))


# -- PEP 440 -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def _pep440(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def compare_pep440(a: str, b: str) -> int:
    """PEP 440 ordering (epochs, pre/post/dev releases, local versions) via ``packaging``."""
    va, vb = _pep440(a.strip()), _pep440(b.strip())
    if va is None or vb is None:
        return compare_generic(a, b)
    return (va > vb) - (va < vb)


# -- Maven ---------------------------------------------------------------------------------------

_MAVEN_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_MAVEN_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_MAVEN_RELEASE = _MAVEN_QUALIFIERS.index("")


def _maven_qualifier_key(value: str) -> tuple[int, str]:
    value = _MAVEN_ALIASES.get(value, value)
    if value in _MAVEN_QUALIFIERS:
        return _MAVEN_QUALIFIERS.index(value), ""
    return len(_MAVEN_QUALIFIERS), value  # unknown qualifiers: after "sp", in lexical order


class _MavenList(list):  # type: ignore[type-arg]
    """A ``ListItem``: the items after a ``-`` (or a letter/digit switch)."""


def _maven_is_null(item: object) -> bool:
    if isinstance(item, int):
        return item == 0
    if isinstance(item, str):
        return _maven_qualifier_key(item)[0] == _MAVEN_RELEASE
    return isinstance(item, _MavenList) and len(item) == 0


def _maven_string_item(value: str, followed_by_digit: bool) -> str:
    if followed_by_digit and len(value) == 1:
        value = {"a": "alpha", "b": "beta", "m": "milestone"}.get(value, value)
    return value


def _maven_parse(version: str) -> _MavenList:
    version = version.strip().lower()
    root = _MavenList()
    current = root
    stack = [root]
    is_digit = False
    start = 0

    def item(text: str, digit: bool, followed_by_digit: bool) -> object:
        return int(text) if digit else _maven_string_item(text, followed_by_digit)

    for i, c in enumerate(version):
        if c == ".":
            current.append(0 if i == start else item(version[start:i], is_digit, False))
            start = i + 1
        elif c == "-":
            current.append(0 if i == start else item(version[start:i], is_digit, False))
            start = i + 1
            sub = _MavenList()
            current.append(sub)
            current = sub
            stack.append(sub)
        elif c.isdigit():
            if not is_digit and i > start:
                # "1.0alpha1": a qualifier directly followed by digits starts a sub-list
                current.append(_maven_string_item(version[start:i], True))
                start = i
                sub = _MavenList()
                current.append(sub)
                current = sub
                stack.append(sub)
            is_digit = True
        else:
            if is_digit and i > start:
                current.append(int(version[start:i]))
                start = i
                sub = _MavenList()
                current.append(sub)
                current = sub
                stack.append(sub)
            is_digit = False
    if len(version) > start:
        current.append(item(version[start:], is_digit, False))
    # normalise from the innermost list out: trailing "null" items (0, "", "ga", ...) go
    for lst in reversed(stack):
        for k in range(len(lst) - 1, -1, -1):
            if _maven_is_null(lst[k]):
                del lst[k]
            elif not isinstance(lst[k], _MavenList):
                break
    return root


def _maven_cmp(left: object, right: object) -> int:  # noqa: PLR0911 - one case per item kind pair
    """``left.compareTo(right)`` where ``None`` stands for a missing item."""
    if isinstance(left, int):
        if right is None:
            return 0 if left == 0 else 1
        if isinstance(right, int):
            return (left > right) - (left < right)
        return 1  # a number beats a qualifier and a sub-list
    if isinstance(left, str):
        ka = _maven_qualifier_key(left)
        if right is None:
            kb: tuple[int, str] = (_MAVEN_RELEASE, "")
        elif isinstance(right, str):
            kb = _maven_qualifier_key(right)
        else:
            return -1  # a qualifier is older than a number or a sub-list
        return (ka > kb) - (ka < kb)
    assert isinstance(left, _MavenList)
    if right is None:
        return 0 if not left else _maven_cmp(left[0], None)
    if isinstance(right, int):
        return -1
    if isinstance(right, str):
        return 1
    assert isinstance(right, _MavenList)
    for k in range(max(len(left), len(right))):
        lv = left[k] if k < len(left) else None
        rv = right[k] if k < len(right) else None
        result = (-_maven_cmp(rv, None) if rv is not None else 0) if lv is None else _maven_cmp(lv, rv)
        if result:
            return result
    return 0


def compare_maven(a: str, b: str) -> int:
    """Maven's ``ComparableVersion`` ordering."""
    return _maven_cmp(_maven_parse(a), _maven_parse(b))


# -- fallback ------------------------------------------------------------------------------------

_GENERIC_PART = re.compile(r"\d+|[A-Za-z]+")


def compare_generic(a: str, b: str) -> int:
    """Numbers numerically, words alphabetically, numbers after words; for versions outside
    their ecosystem's grammar and for ecosystems without rules of their own."""
    pa = [(1, int(p), "") if p.isdigit() else (0, 0, p) for p in _GENERIC_PART.findall(a)]
    pb = [(1, int(p), "") if p.isdigit() else (0, 0, p) for p in _GENERIC_PART.findall(b)]
    return (pa > pb) - (pa < pb)


# -- dispatch ------------------------------------------------------------------------------------

_BY_ECOSYSTEM: dict[str, Callable[[str, str], int]] = {
    "Debian": compare_dpkg,
    "Ubuntu": compare_dpkg,
    "Alpine": compare_apk,
    "Rocky Linux": compare_rpm,
    "AlmaLinux": compare_rpm,
    "Red Hat": compare_rpm,
    "openSUSE": compare_rpm,
    "SUSE": compare_rpm,
    "Mageia": compare_rpm,
    "PyPI": compare_pep440,
    "npm": compare_semver,
    "Go": compare_semver,
    "crates.io": compare_semver,
    "Maven": compare_maven,
}

#: the scheme name of each ecosystem's ordering (for messages and docs)
SCHEMES = {name: fn.__name__.removeprefix("compare_") for name, fn in _BY_ECOSYSTEM.items()}


def ecosystem_base(ecosystem: str) -> str:
    """``"Debian:12"`` → ``"Debian"``; ``"PyPI"`` → ``"PyPI"``."""
    return ecosystem.split(":", 1)[0]


def comparator(ecosystem: str) -> Callable[[str, str], int]:
    """The comparison function of an ecosystem (the generic one for an unknown ecosystem)."""
    return _BY_ECOSYSTEM.get(ecosystem_base(ecosystem), compare_generic)


def compare(ecosystem: str, a: str, b: str) -> int:
    """Compare two versions of a package of ``ecosystem``.

    Args:
        ecosystem: an OSV ecosystem name, with or without its release (``"Debian:12"``, ``"PyPI"``).
        a: a version.
        b: another version.

    Returns:
        ``-1`` when ``a`` is older than ``b``, ``0`` when they are the same version, ``1`` when
        ``a`` is newer. Never raises for a malformed version (see the module docstring).
    """
    result = comparator(ecosystem)(a, b)
    return (result > 0) - (result < 0)


def sort_key(ecosystem: str) -> Callable[[str], object]:
    """A ``key=`` for ``sorted()`` of versions of ``ecosystem``."""
    return functools.cmp_to_key(comparator(ecosystem))
