#!/usr/bin/env python3
"""Regenerate countries.tsv and subdivisions.tsv (read by ../iso.rs).

Inputs, both from package registries:
  - Debian's iso-codes JSON (LGPL-2.1-or-later): iso_3166-1.json and
    iso_3166-2.json, from /usr/share/iso-codes/json (Debian package
    `iso-codes`) or, newer, the copy bundled in PyPI's `pycountry` wheel
    (pycountry/databases/iso3166-1.json, iso3166-2.json);
  - CLDR's English subdivision names (Unicode-3.0): npm package
    `cldr-subdivisions-full`, file subdivisions/en/en.json.

  python3 generate.py ISO_3166_1_JSON ISO_3166_2_JSON CLDR_EN_JSON

The names follow what Plausible shows (its `location` library): a country is
iso-codes' `common_name`, else its `name`; a subdivision is CLDR's English
name where CLDR has one that differs from iso-codes' (iso-codes' names are
mostly in the local language: "Bayern"), except for Estonia and Japan, where
iso-codes' own name is kept, and a few hand-set English names below.
"""

import json
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Countries iso-codes lacks but geolocation databases report.
EXTRA_COUNTRIES = {"XK": "Kosovo"}

# English names set by hand where CLDR has none or a poor one (the same
# choices as Plausible's `location` library, after Wikipedia's ISO 3166-2
# pages).
MANUAL_NAMES = {
    "GB-ENG": "England",
    "GB-NIR": "Northern Ireland",
    "GB-SCT": "Scotland",
    "GB-WLS": "Wales",
    "ID-PD": "Southwest Papua",
    "ID-PE": "Highland Papua",
    "ID-PS": "South Papua",
    "ID-PT": "Central Papua",
    "IL-D": "Southern",
    "IL-M": "Central",
    "IL-Z": "Northern",
    "IL-HA": "Haifa",
    "IL-TA": "Tel Aviv",
    "IL-JM": "Jerusalem",
    "KZ-10": "Abai",
    "KZ-11": "Akmola",
    "KZ-15": "Aktobe",
    "KZ-19": "Almaty",
    "KZ-23": "Atyrau",
    "KZ-27": "West Kazakhstan",
    "KZ-31": "Jambyl",
    "KZ-33": "Jetisu",
    "KZ-35": "Karaganda",
    "KZ-39": "Kostanay",
    "KZ-43": "Kyzylorda",
    "KZ-47": "Mangystau",
    "KZ-55": "Pavlodar",
    "KZ-59": "North Kazakhstan",
    "KZ-61": "Turkistan",
    "KZ-62": "Ulytau",
    "KZ-63": "East Kazakhstan",
    "KZ-75": "Almaty City",
    "FI-01": "Åland",
    "FI-06": "Kanta-Häme",
    "FI-16": "Päijät-Häme",
    "RU-YEV": "Jewish Autonomous Oblast",
    "CZ-10": "Prague",
    "CZ-20": "Central Bohemia",
    "CZ-31": "South Bohemia",
    "CZ-32": "Plzeň",
    "CZ-41": "Karlovy Vary",
    "CZ-42": "Ústí nad Labem",
    "CZ-51": "Liberec",
    "CZ-52": "Hradec Králové",
    "CZ-53": "Pardubice",
    "CZ-63": "Vysočina",
    "CZ-64": "South Moravia",
    "CZ-71": "Olomouc",
    "CZ-72": "Zlín",
    "CZ-80": "Moravia-Silesia",
}

# Countries whose iso-codes names are kept as they are.
KEEP_ISO_NAMES = ("EE", "JP")

# Subdivisions ISO 3166-2 has and this iso-codes release lacks: Norway's
# counties as re-established in 2024 (what DB-IP reports), and Hong Kong's
# districts. Code -> English name; all first-level.
EXTRA_SUBDIVISIONS = {
    "NO-31": "Østfold",
    "NO-32": "Akershus",
    "NO-33": "Buskerud",
    "NO-39": "Vestfold",
    "NO-40": "Telemark",
    "NO-55": "Troms",
    "NO-56": "Finnmark",
    "HK-HCW": "Central and Western",
    "HK-HEA": "Eastern",
    "HK-HSO": "Southern",
    "HK-HWC": "Wan Chai",
    "HK-KKC": "Kowloon City",
    "HK-KKT": "Kwun Tong",
    "HK-KSS": "Sham Shui Po",
    "HK-KWT": "Wong Tai Sin",
    "HK-KYT": "Yau Tsim Mong",
    "HK-NIS": "Islands",
    "HK-NKT": "Kwai Tsing",
    "HK-NNO": "North",
    "HK-NSK": "Sai Kung",
    "HK-NST": "Sha Tin",
    "HK-NTM": "Tuen Mun",
    "HK-NTP": "Tai Po",
    "HK-NTW": "Tsuen Wan",
    "HK-NYL": "Yuen Long",
}

# Further spellings geolocation databases use (DB-IP Lite's `state1`,
# GeoIP2's names.en) that neither iso-codes nor CLDR has, measured against
# DB-IP City Lite. Matching in iso.rs already ignores case, diacritics,
# punctuation and affixes such as "State of" or "Province", so only real
# differences belong here.
ALIASES = {
    "AR-B": ["Buenos Aires"],
    "AR-C": ["Buenos Aires F.D."],
    "BA-BIH": ["Federation of B&H"],
    "BA-SRP": ["Srpska"],
    "BG-22": ["Sofia-grad"],
    "BG-23": ["Sofia"],
    "BH-13": ["Manama"],
    "BY-HO": ["Homyel' Voblasc'", "Gomel"],
    "BY-HR": ["Grodnenskaya", "Grodno"],
    "BY-MA": ["Mogilev"],
    "CH-BS": ["Basel-City"],
    "CH-GR": ["Grisons"],
    "CH-SG": ["Saint Gall"],
    "CI-AB": ["Abidjan Autonomous District"],
    "CL-LI": ["O'Higgins Region"],
    "CN-NM": ["Inner Mongolia"],
    "CO-DC": ["Bogota D.C."],
    "CZ-31": ["South Bohemian Region"],
    "CZ-41": ["Carlsbad Region"],
    "CZ-64": ["South Moravian"],
    "CZ-80": ["Moravian-Silesian Region"],
    "DE-HB": ["City state Bremen", "Free Hanseatic City of Bremen"],
    "DE-HH": ["Free and Hanseatic City of Hamburg"],
    "DK-81": ["North Denmark"],
    "DK-82": ["Central Jutland"],
    "DK-83": ["South Denmark"],
    "DO-01": ["Nacional"],
    "EG-BNS": ["Beni Suweif"],
    "EG-SHR": ["Sharqia"],
    "ES-CL": ["Castille and Leon"],
    "ES-CM": ["Castille-La Mancha"],
    "ES-NC": ["Navarre"],
    "FI-03": ["South Ostrobothnia"],
    "FI-04": ["South Savo"],
    "FI-11": ["Tampere"],
    "FI-14": ["North Ostrobothnia"],
    "FI-15": ["North Savo"],
    # DB-IP still names some French regions as before 2016.
    "FR-20R": ["Corsica"],
    "FR-ARA": ["Rhone-Alpes", "Auvergne"],
    "FR-BFC": ["Bourgogne", "Burgundy", "Franche-Comte"],
    "FR-GES": ["Alsace", "Lorraine", "Champagne-Ardenne"],
    "FR-HDF": ["Nord-Pas-de-Calais", "Picardy"],
    "FR-NAQ": ["New Aquitaine", "Aquitaine", "Limousin", "Poitou-Charentes"],
    "FR-NOR": ["Normandy", "Lower Normandy", "Upper Normandy"],
    "FR-OCC": ["Languedoc-Roussillon", "Midi-Pyrenees"],
    "FR-PAC": ["Provence"],
    "HU-VE": ["Veszprem"],
    "IN-AN": ["Andaman and Nicobar"],
    "IT-57": ["The Marches"],
    "IT-77": ["Basilicate"],
    "KZ-75": ["Almaty"],
    "LB-BA": ["Beyrouth"],
    "MA-07": ["Marrakesh-Safi"],
    "MZ-MPM": ["Maputo City"],
    "NG-FC": ["FCT"],
    "PE-CUS": ["Cuzco Department"],
    "PE-LMA": ["Lima Province"],
    "PL-20": ["Podlasie"],
    "RU-ALT": ["Altay Kray"],
    "RU-KEM": ["Kuzbass"],
    "RU-KHM": ["Khanty-Mansia"],
    "RU-PRI": ["Primorye"],
    "RU-SPE": ["St.-Petersburg"],
    "RU-UD": ["Udmurtiya Republic"],
    "SA-02": ["Mecca Region"],
    "SA-03": ["Medina Region"],
    "UA-05": ["Vinnytsia"],
    "UA-07": ["Volyn"],
    "UA-09": ["Luhansk"],
    "UA-12": ["Dnipropetrovsk"],
    "UA-14": ["Donetsk"],
    "UA-18": ["Zhytomyr"],
    "UA-21": ["Zakarpattia"],
    "UA-23": ["Zaporizhzhia"],
    "UA-26": ["Ivano-Frankivsk"],
    "UA-32": ["Kyiv Oblast"],
    "UA-35": ["Kirovohrad"],
    "UA-46": ["Lviv"],
    "UA-48": ["Mykolaiv"],
    "UA-51": ["Odesa", "Odessa"],
    "UA-53": ["Poltava"],
    "UA-56": ["Rivne"],
    "UA-59": ["Sumy"],
    "UA-61": ["Ternopil"],
    "UA-63": ["Kharkiv"],
    "UA-65": ["Kherson"],
    "UA-68": ["Khmelnytskyi"],
    "UA-71": ["Cherkasy"],
    "UA-74": ["Chernihiv"],
    "UA-77": ["Chernivtsi"],
    "VE-A": ["Distrito Federal"],
    "VE-X": ["Estado La Guaira"],
    "YE-SA": ["Amanat Alasimah"],
}


def fold(name):
    """Case and diacritics off, roughly as iso.rs folds names."""
    decomposed = unicodedata.normalize("NFD", clean(name))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def clean(name):
    return name.replace("\u2019", "'").replace("²", "").replace("³", "").strip()


def main(iso1_path, iso2_path, cldr_path):
    iso1 = json.loads(Path(iso1_path).read_text(encoding="utf-8"))["3166-1"]
    iso2 = json.loads(Path(iso2_path).read_text(encoding="utf-8"))["3166-2"]
    cldr = json.loads(Path(cldr_path).read_text(encoding="utf-8"))
    cldr = cldr["subdivisions"]["localeDisplayNames"]["subdivisions"]

    countries = {e["alpha_2"]: e.get("common_name") or e["name"] for e in iso1}
    countries.update(EXTRA_COUNTRIES)
    with open(HERE / "countries.tsv", "w", encoding="utf-8", newline="\n") as out:
        for code in sorted(countries):
            out.write(f"{code}\t{countries[code]}\n")

    iso2 = iso2 + [
        {"code": code, "name": name, "type": "extra"}
        for code, name in EXTRA_SUBDIVISIONS.items()
        if code not in {e["code"] for e in iso2}
    ]
    # CLDR keys some countries' subdivisions by codes ISO has since
    # reassigned (Iran's: CLDR's ir07 is Tehran, ISO's IR-07 is Fārs). Where
    # a CLDR name is another subdivision's iso-codes name, CLDR is not used
    # for that country at all.
    iso_names = {}
    for e in iso2:
        iso_names.setdefault(e["code"].split("-")[0], {})[fold(e["name"])] = e["code"]
    mismatches = {}
    for e in iso2:
        country = e["code"].split("-")[0]
        cldr_name = cldr.get(e["code"].replace("-", "").lower())
        if not cldr_name or fold(cldr_name) == fold(e["name"]):
            continue
        other = iso_names[country].get(fold(cldr_name))
        if other and other != e["code"]:
            mismatches[country] = mismatches.get(country, 0) + 1
    # One or two are places that share a name (a province and its capital
    # city); more are a renumbering.
    stale = {country for country, n in mismatches.items() if n >= 3}
    print("CLDR/iso-codes name clashes:", mismatches, file=sys.stderr)
    print("CLDR not used for:", " ".join(sorted(stale)), file=sys.stderr)

    rows = []
    for e in sorted(iso2, key=lambda e: e["code"]):
        code, iso_name = e["code"], clean(e["name"])
        country = code.split("-")[0]
        cldr_name = None if country in stale else cldr.get(code.replace("-", "").lower())
        cldr_name = clean(cldr_name) if cldr_name else None
        if code in MANUAL_NAMES:
            name = MANUAL_NAMES[code]
        elif code.split("-")[0] in KEEP_ISO_NAMES or not cldr_name:
            name = iso_name
        else:
            name = cldr_name
        others = [iso_name, cldr_name]
        # Estonia's counties: "Harjumaa" is "Harju" (county).
        if country == "EE" and iso_name.endswith("maa") and "parent" not in e:
            others.append(iso_name[: -len("maa")])
        others += ["*" + alias for alias in ALIASES.get(code, ())]
        seen = {name}
        alts = []
        for other in others:
            if other and other not in seen:
                seen.add(other)
                alts.append(other)
        level = "2" if "parent" in e else "1"
        rows.append("\t".join([code, level, name, *alts]))
    unknown = set(ALIASES) - {e["code"] for e in iso2}
    if unknown:
        sys.exit(f"aliases for unknown codes: {sorted(unknown)}")
    with open(HERE / "subdivisions.tsv", "w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(row + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
