"""Export formats and the export package (zip, manifest, chain of custody)."""
