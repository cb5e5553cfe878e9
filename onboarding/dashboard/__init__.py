"""The staff dashboard's figures and charts (shown by home.staff) and the admin jobs page."""
