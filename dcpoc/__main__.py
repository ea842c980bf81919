import sys

try:   # a Ctrl-C while the command is still importing (torch takes a while): one word, as later
    from .cli import main
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
