"""The demo catalog shipped with the product (``catalog.json``); a county loads its own."""
