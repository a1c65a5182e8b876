"""The built-in datasets: the demo (``demo``), the surface photographs (``surface_photos``) and the
surface-strips benchmark cut from them (``surface_strips``), their registry (``datasets``) and cache (``cache``)."""
