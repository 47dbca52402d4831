#!/usr/bin/env python3
"""Finds pg_virtualenv calls without -t.

As root, pg_virtualenv without -t makes its cluster as /etc/postgresql/15/regress: a
cluster left there by an interrupted run makes the next run fail ("Cluster 15/regress
exists, refusing to overwrite"), and two runs at once share it (a restart in one test hit
the other run's cluster). With -t each run keeps its cluster in a temp dir of its own.
The scripts call scripts/throwaway-cluster, which adds -t and a free port.
    wrong: pg_virtualenv -v 15 bash demo/demo.sh build
    right: scripts/throwaway-cluster bash demo/demo.sh build   (pg_virtualenv -t -v 15 …)
A call is pg_virtualenv followed by an option anywhere (scripts, README, docs), or as a
command in a script's code (not its comments).

Usage: pg_virtualenv_temp.py [FILE...]   (default: every tracked text file). Prints
FILE:LINE: ... per finding; exits 1 if any.
"""
import os
import re
import subprocess
import sys

OPTIONS_WITH_ARGUMENT = "vciop"


def TrackedFiles(root):
	names = subprocess.run(["git", "ls-files"], cwd=root, check=True, capture_output=True, text=True).stdout
	return [n for n in names.split("\n") if n and not n.startswith("tests/lint/")]  # the lints show wrong examples


def HasTemporaryOption(words):
	"""True if the option words right after pg_virtualenv include -t."""
	k = 0
	while k < len(words) and words[k].startswith("-") and words[k] != "--":
		letters = words[k][1:]
		for n, letter in enumerate(letters):
			if letter == "t":
				return True
			if letter in OPTIONS_WITH_ARGUMENT:
				if n == len(letters) - 1:
					k += 1  # the argument is the next word
				break
		k += 1
	return False


def Findings(text, is_script):
	for number, line in enumerate(text.split("\n"), 1):
		code = line
		if is_script:
			code = re.sub(r"(^|\s)#.*", "", line)
		for m in re.finditer(r"\bpg_virtualenv\b((?:[ \t]+\S+)*)", line):
			words = m.group(1).split()
			in_code = m.start() < len(code)
			is_call = (words and words[0].startswith("-")) or (is_script and in_code and words)
			if is_call and not HasTemporaryOption(words):
				yield number, line.strip()


def main(argv):
	root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
	files = argv[1:] or [os.path.join(root, f) for f in TrackedFiles(root)]
	found = 0
	for path in files:
		try:
			with open(path, encoding="utf-8") as f:
				text = f.read()
		except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
			continue  # binary files, submodules, deleted files
		with open(path, "rb") as f:
			first = f.readline()
		is_script = path.endswith(".sh") or re.match(rb"#!.*\b(ba)?sh\b", first) is not None
		for number, line in Findings(text, is_script):
			found += 1
			print(f"{os.path.relpath(path, root)}:{number}: pg_virtualenv without -t: {line[:160]}")
	print(f"pg_virtualenv_temp: {len(files)} files, {found} pg_virtualenv calls without -t")
	return 1 if found else 0


if __name__ == "__main__":
	sys.exit(main(sys.argv))
