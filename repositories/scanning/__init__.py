"""Built-in vulnerability scanning: the layer indexer (packages in an image), the vulnerability
database (OSV import), the matcher (ecosystem version ordering) and SBOM export."""
