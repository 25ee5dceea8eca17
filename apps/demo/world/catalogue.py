"""What the demo world is made of: stores per region, the fleet mix per category, and names."""

# region code -> stores (code suffix, name, city, plate code, postal prefix, latitude, longitude)
STORES = {
    "BER": [
        ("01", "Berlin Mitte", "Berlin", "B", "101", 52.52000, 13.40500),
        ("02", "BER Airport", "Schönefeld", "LDS", "124", 52.36670, 13.50330),
        ("03", "Berlin Hauptbahnhof", "Berlin", "B", "105", 52.52510, 13.36940),
        ("04", "Potsdam", "Potsdam", "P", "144", 52.39060, 13.06450),
    ],
    "NRD": [
        ("01", "Hamburg Altona", "Hamburg", "HH", "227", 53.55030, 9.93560),
        ("02", "Hamburg Airport", "Hamburg", "HH", "223", 53.63040, 9.98820),
        ("03", "Bremen", "Bremen", "HB", "281", 53.07930, 8.80170),
        ("04", "Hannover", "Hannover", "H", "301", 52.37590, 9.73200),
    ],
    "RHR": [
        ("01", "Köln Dom", "Köln", "K", "506", 50.93750, 6.96030),
        ("02", "Düsseldorf Airport", "Düsseldorf", "D", "404", 51.28950, 6.76680),
        ("03", "Düsseldorf", "Düsseldorf", "D", "402", 51.22770, 6.77350),
        ("04", "Dortmund", "Dortmund", "DO", "441", 51.51360, 7.46530),
        ("05", "Essen", "Essen", "E", "451", 51.45560, 7.01160),
    ],
    "RMN": [
        ("01", "Frankfurt Airport", "Frankfurt am Main", "F", "605", 50.03790, 8.56220),
        ("02", "Frankfurt Hauptbahnhof", "Frankfurt am Main", "F", "603", 50.10700, 8.66300),
        ("03", "Mainz", "Mainz", "MZ", "551", 49.99290, 8.24730),
        ("04", "Wiesbaden", "Wiesbaden", "WI", "651", 50.07820, 8.23980),
        ("05", "Darmstadt", "Darmstadt", "DA", "642", 49.87280, 8.65120),
    ],
    "BAY": [
        ("01", "München Zentrum", "München", "M", "803", 48.13510, 11.58200),
        ("02", "Munich Airport", "München-Flughafen", "ED", "853", 48.35380, 11.78610),
        ("03", "Nürnberg", "Nürnberg", "N", "904", 49.45210, 11.07670),
        ("04", "Augsburg", "Augsburg", "A", "861", 48.37050, 10.89780),
        ("05", "Regensburg", "Regensburg", "R", "930", 49.01340, 12.10160),
    ],
    "SAX": [
        ("01", "Dresden", "Dresden", "DD", "010", 51.05040, 13.73730),
        ("02", "Leipzig", "Leipzig", "L", "041", 51.33970, 12.37310),
        ("03", "Chemnitz", "Chemnitz", "C", "091", 50.82780, 12.92140),
    ],
}

# category code -> (share of the fleet, [(make, model, world manufacturer id)], insurance per day)
FLEET_MIX = {
    "MINI": (0.10, [("Fiat", "500", "ZFA"), ("Volkswagen", "up!", "WVW"), ("Toyota", "Aygo X", "JTD")], "9.00"),
    "ECON": (0.22, [("Volkswagen", "Polo", "WVW"), ("Opel", "Corsa", "W0L"), ("Renault", "Clio", "VF1")], "10.00"),
    "COMP": (0.25, [("Volkswagen", "Golf", "WVW"), ("Škoda", "Octavia", "TMB"), ("Ford", "Focus", "WF0")], "12.00"),
    "MID": (
        0.12,
        [("Volkswagen", "Passat", "WVW"), ("BMW", "3 Series", "WBA"), ("Mercedes-Benz", "C-Class", "WDD")],
        "15.00",
    ),
    "SUV": (0.13, [("Volkswagen", "Tiguan", "WVW"), ("Škoda", "Kodiaq", "TMB"), ("BMW", "X3", "WBA")], "17.00"),
    "VAN": (
        0.05,
        [("Volkswagen", "Multivan", "WV2"), ("Mercedes-Benz", "V-Class", "WDF"), ("Ford", "Tourneo", "WF0")],
        "19.00",
    ),
    "EV": (
        0.08,
        [("Volkswagen", "ID.3", "WVW"), ("Tesla", "Model 3", "LRW"), ("Renault", "Megane E-Tech", "VF1")],
        "14.00",
    ),
    "LUX": (0.05, [("BMW", "5 Series", "WBA"), ("Mercedes-Benz", "E-Class", "WDD"), ("Audi", "A6", "WAU")], "25.00"),
}


def _words(text: str) -> list[str]:
    return text.split()


FEMALE = _words(
    "Anna Maria Laura Julia Sarah Lena Lea Hannah Sophie Emma Mia Lisa Katharina Johanna Clara Nina "
    "Elif Aylin Zofia Marta Chiara Giulia Ines Fatma Olga"
)
MALE = _words(
    "Lukas Leon Jonas Paul Felix Maximilian Tim Jan Niklas David Tobias Florian Moritz Sebastian Can "
    "Emre Mehmet Luca Marco Piotr Tomasz Ivan Ahmed Omar Daniel"
)
LAST = _words(
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer "
    "Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange "
    "Schmitt Werner Krause Meier Lehmann Schmid Schulze Maier Köhler Herrmann König Walter Mayer "
    "Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn Schubert Vogel Friedrich Keller "
    "Günther Frank Berger Winkler Roth Beck Lorenz Baumann Yilmaz Kaya Demir Nowak Kowalski Rossi "
    "Russo Ivanov Popescu Nguyen"
)
