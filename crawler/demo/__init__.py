"""Local demo/test fixtures for docwatch: a static documentation server and a fake site."""
