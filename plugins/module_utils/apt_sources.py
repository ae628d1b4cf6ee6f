# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Add components (``contrib non-free ...``) to the APT entries a host already has.

Works on the text of APT source files in both formats:

- one-line (``/etc/apt/sources.list``, ``*.list``):
  ``deb [signed-by=...] http://deb.debian.org/debian bookworm main``
- deb822 (``*.sources``, Debian 12 cloud images and Debian 13):
  stanzas with ``Types``, ``URIs``, ``Suites``, ``Components`` fields.

An entry is edited when it is enabled, of type ``deb`` or ``deb-src``, one of
its URIs matches ``uri_pattern`` (the distribution's archive on whatever
mirror the host uses), one of its suites is ``release`` or ``release-*``
(``bookworm``, ``bookworm-updates``, ``bookworm-security``), and it has the
``main`` component. Only the components line (or the end of the one-line
entry) changes; comments, options, order and line endings stay as they are.
A component that another entry already provides for the same type, URI and
suite is not added again. Plain Python, no Ansible imports, so unit tests
import it directly.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# The path of a Debian archive or its security archive, on any mirror
# (deb.debian.org, cdn-aws.deb.debian.org, security.debian.org, a local mirror).
DEBIAN_URI_PATTERN = r"/debian(-security)?/?$"

_TYPES = ("deb", "deb-src")
# '#' starts a comment at the start of a line or after white space.
_COMMENT = re.compile(r"(^|\s)#")


class AptSourcesError(Exception):
    """Base class; ``kind`` names the class of failure for the module result."""

    kind = "error"

    def __init__(self, message):
        super(AptSourcesError, self).__init__(message)
        self.message = message


class BadPattern(AptSourcesError):
    """``uri_pattern`` is not a valid regular expression."""

    kind = "bad_pattern"


class NoMatchingEntry(AptSourcesError):
    """No enabled entry of the distribution's archive was found."""

    kind = "no_matching_entry"


def is_deb822(path):
    """deb822 format for ``*.sources`` files, one-line format otherwise."""
    return path.endswith(".sources")


def _suite_matches(suite, release):
    return not release or suite == release or suite.startswith(release + "-")


def _norm_uri(uri):
    return uri.rstrip("/")


class _Entry(object):
    """One one-line entry or one deb822 stanza, with where its components end."""

    def __init__(self, path, line, types, uris, suites, components, enabled=True):
        self.path = path
        self.line = line  # 0-based index of the line to extend
        self.types = types
        self.uris = uris
        self.suites = suites
        self.components = components
        self.enabled = enabled
        self.added = []

    def combos(self):
        for kind in self.types:
            for uri in self.uris:
                for suite in self.suites:
                    yield kind, _norm_uri(uri), suite

    def describe(self):
        return {
            "path": self.path,
            "line": self.line + 1,
            "types": list(self.types),
            "uris": list(self.uris),
            "suites": list(self.suites),
            "components": list(self.components),
            "added": list(self.added),
        }


def _split_newline(line):
    body = line.rstrip("\r\n")
    return body, line[len(body):]


def _strip_comment(body):
    match = _COMMENT.search(body)
    return body[:match.start()] if match else body


def parse_one_line(path, lines):
    """Entries of a one-line sources file (``lines`` keep their line ends)."""
    entries = []
    for index, line in enumerate(lines):
        body = _strip_comment(_split_newline(line)[0]).strip()
        if not body:
            continue
        kind = body.split(None, 1)[0]
        rest = body[len(kind):].strip()
        if kind not in _TYPES:
            continue
        if rest.startswith("["):
            end = rest.find("]")
            if end < 0:
                continue
            rest = rest[end + 1:]
        fields = rest.split()
        if len(fields) < 2:
            continue
        uri, suite, components = fields[0], fields[1], fields[2:]
        entries.append(_Entry(path, index, [kind], [uri], [suite], components))
    return entries


def parse_deb822(path, lines):
    """Entries (one per stanza) of a deb822 sources file."""
    entries = []
    stanza = {}  # lower-case field name -> (first line index, value)
    current = None

    def close():
        if "types" in stanza and "uris" in stanza and "suites" in stanza:
            enabled = stanza.get("enabled", (None, "yes"))[1].strip().lower() not in ("no", "false", "0")
            components = stanza.get("components", (None, ""))[1].split()
            entries.append(_Entry(
                path, stanza.get("components", (-1, ""))[0],
                stanza["types"][1].split(), stanza["uris"][1].split(), stanza["suites"][1].split(),
                components, enabled,
            ))
        stanza.clear()

    for index, line in enumerate(lines):
        body = _split_newline(line)[0]
        if not body.strip():
            close()
            current = None
            continue
        if body.lstrip().startswith("#"):
            continue
        if body[0] in " \t":
            if current is not None:
                first, value = stanza[current]
                stanza[current] = (first, value + " " + body.strip())
            continue
        name, sep, value = body.partition(":")
        if not sep:
            continue
        current = name.strip().lower()
        stanza[current] = (index, value.strip())
    close()
    return entries


def _matches(entry, uri_re, release):
    return (
        entry.enabled
        and entry.line >= 0
        and any(kind in _TYPES for kind in entry.types)
        and any(uri_re.search(uri) for uri in entry.uris)
        and any(_suite_matches(suite, release) for suite in entry.suites)
        and "main" in entry.components
    )


def _extend(line, added):
    """Append the components to the entry's line, before a comment and the line end."""
    body, newline = _split_newline(line)
    match = _COMMENT.search(body)
    head, tail = (body[:match.start()], body[match.start():]) if match else (body, "")
    stripped = head.rstrip()
    return stripped + " " + " ".join(added) + head[len(stripped):] + tail + newline


def add_components(files, components, release="", uri_pattern=DEBIAN_URI_PATTERN, require_match=False):
    """Rewrite sources files so the archive's entries carry ``components``.

    ``files`` is a list of ``(path, text)``; the format follows the path
    (``*.sources`` is deb822). Returns ``{"files": [{path, before, after,
    changed}], "entries": [...]}`` where ``entries`` describes every entry
    that matched (its components before, and what was ``added``).
    Raises BadPattern, or NoMatchingEntry when ``require_match`` and no
    entry matched.
    """
    try:
        uri_re = re.compile(uri_pattern)
    except re.error as exc:
        raise BadPattern("uri_pattern %r is not a regular expression: %s" % (uri_pattern, exc))

    parsed = []
    known = set()
    for path, text in files:
        lines = text.splitlines(True)
        entries = parse_deb822(path, lines) if is_deb822(path) else parse_one_line(path, lines)
        parsed.append((path, text, lines, entries))
        for entry in entries:
            if entry.enabled:
                for combo in entry.combos():
                    for component in entry.components:
                        known.add(combo + (component,))

    results = []
    matched = []
    for path, text, lines, entries in parsed:
        for entry in entries:
            if not _matches(entry, uri_re, release):
                continue
            matched.append(entry)
            combos = [combo for combo in entry.combos() if _suite_matches(combo[2], release)]
            entry.added = [
                component for component in components
                if component not in entry.components
                and any(combo + (component,) not in known for combo in combos)
            ]
            if entry.added:
                lines[entry.line] = _extend(lines[entry.line], entry.added)
                # A later entry for the same type, URI and suite needs them no more.
                known.update(combo + (component,) for combo in combos for component in entry.added)
        after = "".join(lines)
        results.append({"path": path, "before": text, "after": after, "changed": after != text})

    if require_match and not matched:
        raise NoMatchingEntry(
            "no enabled 'deb' entry with component 'main' for suite %s on a URI matching %r in %s"
            % (release or "(any)", uri_pattern, ", ".join(path for path, _text in files) or "(no sources files)")
        )
    return {"files": results, "entries": [entry.describe() for entry in matched]}
