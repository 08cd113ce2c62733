"""The operator's dashboard at ``/ui``: static HTML, CSS and JavaScript served by ragworks itself."""
