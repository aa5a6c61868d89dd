"""``python -m asxh_card`` runs the command line."""

from asxh_card.cli import main

main()
