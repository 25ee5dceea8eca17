"""The shapes of the synthetic payments: merchant categories (spending share, mean amount, fraud
weight), spending and fraud by hour, cities, streets, error lists, and the kinds of bad rows."""

from __future__ import annotations

import numpy as np

# The kinds of bad transaction rows (and labels) the generator can write.
DIRTY_KINDS = (
    "bad_amount",
    "bad_date",
    "unknown_client",
    "unknown_card",
    "card_client_mismatch",
    "unknown_mcc",
    "column_count",
    "bad_quoting",
    "bad_encoding",
    "duplicate_in_file",
    "unknown_transaction",
)

# (code, share of spending rows, mean amount $, fraud weight, online-capable)
MCC_PROFILE = [
    ("5411", 0.120, 45, 0.6, False),  # grocery stores
    ("5499", 0.110, 25, 0.5, False),  # misc food stores
    ("5541", 0.100, 40, 0.6, False),  # service stations
    ("5812", 0.080, 38, 0.5, False),  # restaurants
    ("5814", 0.070, 12, 0.4, False),  # fast food
    ("5912", 0.050, 30, 0.7, False),  # drug stores
    ("4829", 0.045, 120, 3.5, True),  # money transfer
    ("5300", 0.040, 70, 1.0, True),  # wholesale clubs
    ("5311", 0.040, 65, 1.2, True),  # department stores
    ("4121", 0.035, 28, 0.8, True),  # taxicabs
    ("4784", 0.030, 9, 0.4, False),  # tolls
    ("4900", 0.030, 110, 0.3, True),  # utilities
    ("5310", 0.025, 55, 1.5, True),  # discount stores
    ("5732", 0.020, 240, 4.0, True),  # electronics
    ("5815", 0.020, 15, 1.8, True),  # digital media
    ("7538", 0.020, 180, 0.8, False),  # auto service
    ("5942", 0.015, 25, 1.2, True),  # book stores
    ("5651", 0.015, 60, 1.5, True),  # family clothing
    ("5661", 0.010, 75, 1.5, True),  # shoe stores
    ("5719", 0.010, 55, 1.2, True),  # home furnishings
    ("7011", 0.012, 210, 2.0, True),  # hotels
    ("4511", 0.010, 380, 3.0, True),  # airlines
    ("3000", 0.004, 450, 5.0, True),  # United Airlines
    ("5211", 0.015, 95, 0.6, False),  # building materials
    ("8011", 0.015, 140, 0.3, False),  # doctors
    ("8021", 0.008, 160, 0.3, False),  # dentists
    ("8099", 0.008, 120, 0.4, False),  # medical services
    ("7349", 0.010, 85, 0.5, False),  # cleaning services
    ("7230", 0.010, 35, 0.4, False),  # beauty shops
    ("7832", 0.010, 22, 0.6, False),  # cinemas
    ("7995", 0.006, 60, 6.0, True),  # gambling
    ("5932", 0.005, 150, 4.5, True),  # antique shops
    ("5094", 0.004, 420, 8.0, True),  # precious stones and metals
    ("5045", 0.006, 300, 3.0, True),  # computers
    ("5098", 0.004, 130, 1.0, False),  # processor-specific code, not in ISO 18245 (from mcc_codes.json)
    ("9402", 0.006, 8, 0.2, False),  # postal services
]
FILE_ONLY_MCC = {"5098": "Medical and Dental Supplies Wholesale (processor code)"}
UNKNOWN_MCCS = ["9990", "0000", "9998"]

HOUR_WEIGHTS = np.array(
    [0.6, 0.4, 0.3, 0.25, 0.3, 0.6, 1.6, 3.2, 4.8, 5.6, 6.2, 7.0, 7.6, 7.4, 7.0, 6.6, 6.8, 7.2, 7.0, 6.2, 4.8, 3.6,
     2.4, 1.3]
)  # fmt: skip
# Fraud leans to the night: relative risk per hour of day.
HOUR_FRAUD = np.array(
    [4.0, 5.0, 5.5, 5.5, 4.5, 3.0, 1.5, 1.0, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.8, 0.8, 0.9, 1.0, 1.2, 1.6,
     2.2, 3.0]
)  # fmt: skip

CITIES = [
    ("Beulah", "ND", 58523), ("La Verne", "CA", 91750), ("Monterey Park", "CA", 91754), ("Houston", "TX", 77002),
    ("Dallas", "TX", 75201), ("Austin", "TX", 78701), ("Chicago", "IL", 60601), ("Naperville", "IL", 60540),
    ("New York", "NY", 10001), ("Brooklyn", "NY", 11201), ("Buffalo", "NY", 14201), ("Miami", "FL", 33101),
    ("Orlando", "FL", 32801), ("Tampa", "FL", 33602), ("Atlanta", "GA", 30303), ("Savannah", "GA", 31401),
    ("Charlotte", "NC", 28202), ("Raleigh", "NC", 27601), ("Columbus", "OH", 43215), ("Cleveland", "OH", 44113),
    ("Detroit", "MI", 48226), ("Grand Rapids", "MI", 49503), ("Phoenix", "AZ", 85004), ("Tucson", "AZ", 85701),
    ("Seattle", "WA", 98101), ("Spokane", "WA", 99201), ("Portland", "OR", 97204), ("Denver", "CO", 80202),
    ("Boston", "MA", 2108), ("Worcester", "MA", 1608), ("Newark", "NJ", 7102), ("Jersey City", "NJ", 7302),
    ("Philadelphia", "PA", 19103), ("Pittsburgh", "PA", 15222), ("Nashville", "TN", 37203), ("Memphis", "TN", 38103),
    ("Minneapolis", "MN", 55401), ("Saint Paul", "MN", 55101), ("Kansas City", "MO", 64105), ("St. Louis", "MO", 63101),
    ("Las Vegas", "NV", 89101), ("Reno", "NV", 89501), ("Salt Lake City", "UT", 84101), ("Albuquerque", "NM", 87102),
    ("Omaha", "NE", 68102), ("Milwaukee", "WI", 53202), ("Indianapolis", "IN", 46204), ("Louisville", "KY", 40202),
    ("New Orleans", "LA", 70112), ("Birmingham", "AL", 35203), ("Little Rock", "AR", 72201), ("Boise", "ID", 83702),
    ("Honolulu", "HI", 96813), ("Anchorage", "AK", 99501), ("Richmond", "VA", 23219), ("Baltimore", "MD", 21201),
    ("Hartford", "CT", 6103), ("Providence", "RI", 2903), ("Burlington", "VT", 5401), ("Portland", "ME", 4101),
]  # fmt: skip
FOREIGN = [("Rome", "Italy"), ("Mexico City", "Mexico"), ("Toronto", "Canada"), ("London", "United Kingdom"),
           ("Paris", "France"), ("Tokyo", "Japan"), ("Berlin", "Germany"), ("Cancun", "Mexico")]  # fmt: skip
STREETS = ["Rose Lane", "Oak Street", "Maple Avenue", "Cedar Drive", "Pine Street", "Elm Street", "Lake Road",
           "Hill Street", "Sunset Boulevard", "Park Avenue", "River Road", "Main Street", "Washington Street",
           "Lincoln Avenue", "Valley Drive", "Forest Lane"]  # fmt: skip
ERRORS = ["Bad PIN", "Insufficient Balance", "Technical Glitch", "Bad Card Number", "Bad CVV", "Bad Expiration",
          "Bad Zipcode"]  # fmt: skip
ERROR_COMBOS = [
    ("Insufficient Balance", 0.40), ("Bad PIN", 0.22), ("Technical Glitch", 0.18), ("Bad Card Number", 0.05),
    ("Bad Expiration", 0.04), ("Bad CVV", 0.04), ("Bad Zipcode", 0.02), ("Bad PIN,Insufficient Balance", 0.015),
    ("Insufficient Balance,Technical Glitch", 0.012), ("Bad Card Number,Bad CVV", 0.008),
    ("Bad Expiration,Bad CVV", 0.006), ("Bad PIN,Technical Glitch", 0.005), ("Bad Card Number,Bad Expiration", 0.004),
]  # fmt: skip
METHODS = ["Swipe Transaction", "Chip Transaction", "Online Transaction"]
BAD_AMOUNTS = ["$12.3x", "N/A", "$--5.00", "12 USD", "$", "$1.2.3"]
BAD_DATES = ["2010-13-01 10:00:00", "2011-02-30 08:15:00", "31/12/2015 10:00", "not a date", "2012-04-31 25:61:00"]
