"""celeriac's version: a leaf that the command line and the façade read (the top package
re-exports it), so that neither imports the package above them."""

__version__ = "0.1.0"
