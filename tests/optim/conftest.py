import os
import sys

# test helpers live next to the tests (no __init__.py: pytest runs with --import-mode=importlib)
sys.path.insert(0, os.path.dirname(__file__))
