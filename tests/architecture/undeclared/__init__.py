"""A deliberately incomplete app: `manage.py check` must refuse it (test_declarations.py)."""
