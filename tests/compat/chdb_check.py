#!/usr/bin/env python3
"""Runs SQL files against a modern ClickHouse engine embedded in Python (chDB).

Usage: chdb_check.py STATEMENTS_FILE
The file holds statements separated by lines containing only `;;`. Each runs in
order in a fresh session; the first failure prints the statement and the
engine's error and exits 1. Prints the engine version first.
"""
import sys
import tempfile

try:
    from chdb import session
except ImportError:
    sys.stderr.write("chdb is not installed: pip install chdb-core\n")
    sys.exit(3)


def main() -> int:
    statements = [s.strip() for s in open(sys.argv[1], encoding="utf-8").read().split("\n;;\n") if s.strip()]
    with tempfile.TemporaryDirectory() as path:
        sess = session.Session(path)
        version = str(sess.query("SELECT version()", "CSV")).strip().strip('"')
        print(f"engine {version}")
        for i, statement in enumerate(statements):
            try:
                result = sess.query(statement, "TSV")
            except Exception as exc:  # chDB raises plain RuntimeError with the server message
                print(f"statement {i} failed:\n{statement}\n--\n{exc}")
                return 1
            text = str(result).strip()
            if text:
                # One line per statement: its rows sorted (so two statements
                # that should agree can be compared whatever their order).
                rows = " | ".join(sorted(text.splitlines()))
                print(f"statement {i}: {rows[:2000]}")
    print(f"{len(statements)} statements ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
