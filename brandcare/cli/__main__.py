"""``python -m brandcare.cli``: the same as the ``brandcare`` console script."""

from brandcare.cli import main

main()
