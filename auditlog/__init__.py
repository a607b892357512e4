"""The System Audit Log: catalog, recorder, context, storage, viewer, API, exports, integrity."""
