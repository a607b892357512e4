"""The audit kernel alone: no app of the product installed (test_kernel_alone.py)."""

SECRET_KEY = "kernel-alone-test-key-not-used-for-anything-else-0123456789"
INSTALLED_APPS = ["django.contrib.contenttypes", "auditlog"]
DATABASES = {"default": {"ENGINE": "auditlog.db", "NAME": "unused"}}
ORGANIZATION_MODEL = "accounts.Organization"
USE_TZ = True
