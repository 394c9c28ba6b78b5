# Kazakh number formats, which Django does not ship (its `kk` locale has messages only):
# a decimal comma and a no-break space between thousands, as CLDR has them and as the
# browsers' Intl.NumberFormat("kk") writes them, so the server and the pages agree.
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "\xa0"
NUMBER_GROUPING = 3
