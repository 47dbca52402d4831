#!/usr/bin/env python3
"""Finds early-exiting readers after a pipe in the shell scripts.

Under `set -o pipefail` a pipeline fails when any command in it fails, and a writer
that is still writing when its reader has exited dies of SIGPIPE (status 141). A
reader that stops at the first match or after N lines (`grep -q`, `grep -m`, `grep -l`,
`head`, `sed …q`, `awk …exit`, `read`) therefore makes a correct check fail now and
then, depending on timing: `unzip -l f | grep -q x` failed one demo run in three on a
busy 2-core machine. Read the whole output first instead:
    wrong: unzip -l "$f" | grep -q 'Sign_0/SignedValue.dat'
    right: grep -q 'Sign_0/SignedValue.dat' <<<"$(unzip -l "$f")"
Every script is checked, with or without pipefail: a script can be sourced by (or
source) one that sets it.

Usage: pipefail_readers.py [FILE...]   (default: the tracked shell scripts of demo/,
tests/, bench/, scripts/ and .ci/). Prints FILE:LINE: ... per finding; exits 1 if any.
"""
import os
import re
import subprocess
import sys

DIRS = ("demo", "tests", "bench", "scripts", ".ci")


def ShellScripts(root):
	try:
		names = subprocess.run(["git", "ls-files", "--", *DIRS], cwd=root, check=True, capture_output=True,
		                       text=True).stdout.split("\n")
	except (OSError, subprocess.CalledProcessError):
		names = [os.path.relpath(os.path.join(d, f), root) for top in DIRS
		         for d, _, files in os.walk(os.path.join(root, top)) for f in files]
	scripts = []
	for name in filter(None, names):
		if name.startswith("tests/lint/fixtures/"):
			continue  # examples of what the lint finds
		path = os.path.join(root, name)
		if name.endswith(".sh"):
			scripts.append(name)
			continue
		try:
			with open(path, "rb") as f:
				first = f.readline()
		except OSError:
			continue
		if re.match(rb"#!.*\b(ba)?sh\b", first):
			scripts.append(name)
	return sorted(scripts)


def LogicalLines(text):
	"""Yields (starts, text): the logical lines with here-document bodies left out, comments
	removed and continued lines (ending in \\, | or &&) joined to the next; starts lists
	(offset in text, line number) for each physical line joined."""
	lines = text.split("\n")
	i = 0
	pending, starts = "", []
	while i < len(lines):
		line = lines[i]
		i += 1
		code = StripComment(line)
		starts.append((len(pending) + 1, i))
		pending += " " + code
		for word in re.findall(r"(?<!<)<<(?!<)-?\s*['\"\\]?([A-Za-z_]\w*)['\"]?", code):
			while i < len(lines) and lines[i].strip() != word:
				i += 1
			i += 1
		stripped = pending.rstrip()
		if stripped.endswith("\\"):
			pending = stripped[:-1]
			continue
		if stripped.endswith("|") or stripped.endswith("&&"):
			continue
		yield starts, pending
		pending, starts = "", []
	if pending:
		yield starts, pending


def StripComment(line):
	"""The line without a trailing comment (a # that starts a word outside quotes)."""
	m = re.search(r"(^|[\s;|&(])#", Blank(line))
	return line[:m.start() + len(m.group(1))] if m else line


def Blank(code):
	"""Quoted text replaced by x's (so its |, ;, # and spaces do not count), keeping length;
	a command substitution inside double quotes, $(...), stays code."""
	out = []
	stack = ["code"]  # code | ' | " | $( (code inside a substitution, with its open parentheses)
	depth = []
	k = 0
	while k < len(code):
		c = code[k]
		state = stack[-1]
		if state == "'":
			if c == "'":
				stack.pop()
			out.append(c if c == "'" else "x")
		elif state == '"':
			if c == "\\" and k + 1 < len(code):
				out.append("xx")
				k += 2
				continue
			if c == '"':
				stack.pop()
				out.append(c)
			elif code.startswith("$(", k):
				stack.append("$(")
				depth.append(1)
				out.append("$(")
				k += 2
				continue
			else:
				out.append("x")
		else:
			if c == "\\" and k + 1 < len(code):
				out.append(code[k:k + 2])
				k += 2
				continue
			if c in "'\"":
				stack.append(c)
			elif state == "$(" and c == "(":
				depth[-1] += 1
			elif state == "$(" and c == ")":
				depth[-1] -= 1
				if depth[-1] == 0:
					depth.pop()
					stack.pop()
			out.append(c)
		k += 1
	return "".join(out)


GREP = re.compile(r"^(grep|egrep|fgrep|zgrep)$")
SED_QUIT = re.compile(r"(^|[;\s'\"}/0-9$])[qQ][0-9]*\s*['\"]?\s*($|;|})")  # a q or Q command
GREP_EARLY_OPTION = re.compile(r"^(-[A-Za-z0-9]*[qlLm][A-Za-z0-9]*|--(quiet|silent|max-count\S*|files-with\S*))$")


def EarlyReader(segment, raw):
	"""The reader's name if the pipeline stage may exit before reading all its input."""
	words = segment.split()
	while words and (words[0] == "!" or re.match(r"^\w+=", words[0])):
		words = words[1:]
	if not words:
		return None
	cmd = words[0]
	if GREP.match(cmd):
		for w in words[1:]:
			if w == "--":
				break
			if GREP_EARLY_OPTION.match(w):
				return cmd + " " + w
		return None
	if cmd in ("head", "read", "line"):
		return cmd
	if cmd == "sed" and SED_QUIT.search(raw):
		return "sed …q"
	if cmd in ("awk", "gawk", "mawk") and re.search(r"\bexit\b", raw):
		return "awk …exit"
	return None


def Findings(text):
	for starts, line in LogicalLines(text):
		blank = Blank(line)
		# Split at separators that end a pipeline (||, &&, ;, &, parentheses, `), keeping the
		# positions so that the raw (unblanked) text of each stage can be looked at.
		pipelines = blank.replace("|&", "| ").replace("||", ";;").replace("&&", ";;")
		for m in re.finditer(r"[^;&()`]+", pipelines):
			stages = [(s.start() + m.start(), s.end() + m.start()) for s in re.finditer(r"[^|]+", m.group(0))]
			for a, b in stages[1:]:
				reader = EarlyReader(pipelines[a:b], line[a:b])
				if reader:
					word = a + len(pipelines[a:b]) - len(pipelines[a:b].lstrip())
					number = max(n for offset, n in starts if offset <= word)
					yield number, reader, line.strip()


def main(argv):
	root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
	files = argv[1:] or [os.path.join(root, f) for f in ShellScripts(root)]
	found = 0
	for path in files:
		with open(path, encoding="utf-8", errors="replace") as f:
			text = f.read()
		for number, reader, line in Findings(text):
			found += 1
			print(f"{os.path.relpath(path, root)}:{number}: '{reader}' after a pipe can exit early "
			      f"(SIGPIPE fails the pipeline under pipefail): {line[:160]}")
	print(f"pipefail_readers: {len(files)} scripts, {found} early-exiting readers after a pipe")
	return 1 if found else 0


if __name__ == "__main__":
	sys.exit(main(sys.argv))
