"""The synthetic hospital's catchment area: streets, households and patients, generated whole
arrays at a time with one numpy Generator.

Every person carries ground truth the engine never sees: canonical name ids, a household id, a
street id and a phone key. The written values (what goes into the CSV files) vary the way real feeds
do: accents or none, "Street" or "St.", phones in several formats; the contract's normalisation
("Matching people") must see through them, and the evaluation measures whether it does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Canonical spellings: no two of them normalise alike (tests check it), so an id is an identity.
FIRST_NAMES_F = ("Zoë", "Renée", "Chloé", "Siobhán", "María", "Anaïs", "Inès", "Ingrid", "Mary", "Linda", "Aisha",
                 "Mei", "Priya", "Fatima", "Olga", "Hannah", "Grace", "Nora", "Julia", "Amélie", "Ewa", "Keiko",
                 "Rosa", "Ana-Lucía", "Dorothy", "Beatriz", "Leila", "Sophie", "Yasmin", "Mary-Kate")
FIRST_NAMES_M = ("José", "François", "Jürgen", "Björn", "Seán", "Łukasz", "André", "John", "James", "Robert",
                 "Michael", "David", "Wei", "Arjun", "Omar", "Kwame", "Luis", "Mateo", "Hiroshi", "Ahmed",
                 "Pierre", "Tomás", "Dmitri", "Ngozi", "Samuel", "Jean-Luc", "Oisín", "Ravi", "Carlos", "Peter")
LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "García", "Miller", "Davis", "Rodríguez", "Martínez",
              "Hernández", "López", "González", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
              "Lee", "Pérez", "Thompson", "White", "Harris", "Sánchez", "Clark", "Ramírez", "Lewis", "Robinson",
              "O'Brien", "O'Connor", "D'Angelo", "Müller", "Schäfer", "Nguyễn", "Trần", "Smith-Jones", "St. John",
              "McDonald", "MacLeod", "Kowalski", "Wiśniewski", "Novák", "Dvořák", "Okafor", "Mensah", "Cohen",
              "Levi", "Patel", "Shah", "Kim", "Park", "Chen", "Wang", "Li", "Zhang", "Tanaka", "Suzuki", "Santos",
              "Ferreira", "Rossi", "Bianchi", "Dubois", "Lefèvre", "Fontaine", "Bergström", "Lindqvist", "Hansen",
              "Jensen", "Van der Berg", "De la Cruz", "Ó Súilleabháin", "Fitzgerald", "Murphy", "Kelly", "Walsh",
              "Byrne", "Ryan", "Doyle", "Quinn", "Nakamura", "Yılmaz", "Kaya", "Haddad", "Khoury", "Abboud",
              "Ivanov", "Petrov", "Sokolov", "Horvat", "Kovač", "Papadopoulos", "Georgiou", "Andersson", "Nilsen")
STREET_NAMES = ("Main", "Maple", "Oak", "Elm", "Pine", "Cedar", "Washington", "Lincoln", "Franklin", "Jefferson",
                "Highland", "Prospect", "Pleasant", "Summer", "Winter", "Spring", "Central", "Church", "School",
                "Mill", "Water", "Bridge", "Park", "Chestnut", "Walnut", "Willow", "Hawthorne", "Beacon", "Cambridge",
                "Harvard", "Tremont", "Boylston", "Commonwealth", "Massachusetts", "Dorchester", "Adams", "Quincy",
                "Hancock", "Revere", "Putnam", "Lexington", "Concord", "Salem", "Lowell", "Essex", "Granite",
                "Orchard", "Meadow", "River", "Lake", "Hillside", "Sunset", "Forest", "Birch", "Ash", "Holly")
SUFFIXES = (("Street", "St"), ("Avenue", "Ave"), ("Road", "Rd"), ("Drive", "Dr"), ("Lane", "Ln"),
            ("Boulevard", "Blvd"), ("Court", "Ct"), ("Place", "Pl"), ("Terrace", "Ter"), ("Circle", "Cir"))
TOWNS = (("Boston", "021"), ("Cambridge", "021"), ("Somerville", "021"), ("Quincy", "021"), ("Newton", "024"),
         ("Brookline", "024"), ("Waltham", "024"), ("Medford", "021"), ("Malden", "021"), ("Revere", "021"),
         ("Lynn", "019"), ("Salem", "019"), ("Framingham", "017"), ("Worcester", "016"), ("Lowell", "018"))
AREA_CODES = np.array(["617", "781", "857", "508", "978", "339"])
HOUSEHOLD_SIZES = (np.arange(1, 6), np.array([0.30, 0.30, 0.17, 0.15, 0.08]))
HOUSEHOLDS_PER_STREET = 9
HOUSEHOLDS_PER_TOWN_ZIP = 300


@dataclass
class Area:
    """Streets (street id -> name, suffix, zip) and households (household id -> street, number,
    unit, surname id, phone key)."""

    streets: pd.DataFrame
    households: pd.DataFrame


def pick(rng: np.random.Generator, options, n: int, p=None) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=p)]


def surname_weights() -> np.ndarray:
    """Zipf-like: common surnames are shared by unrelated families, as in life."""
    w = 1.0 / np.arange(1, len(LAST_NAMES) + 1) ** 0.8
    return w / w.sum()


def build_area(rng: np.random.Generator, households: int) -> Area:
    n_zip = max(len(TOWNS), households // HOUSEHOLDS_PER_TOWN_ZIP + 1)
    zips = pd.DataFrame({"town": np.arange(n_zip) % len(TOWNS)})
    zips["city"] = np.array([t for t, _ in TOWNS], dtype=object)[zips["town"]]
    zips["postal_code"] = (np.array([p for _, p in TOWNS], dtype=object)[zips["town"]]
                           + pd.Series(10 + np.arange(n_zip) * 7 % 90).astype(str).str.zfill(2).to_numpy())
    n_streets = max(4, households // HOUSEHOLDS_PER_STREET + 1)
    combos = len(STREET_NAMES) * len(SUFFIXES)
    # each (name, suffix, zip) at most once: a street is the same name and suffix in the same postal code
    slot = rng.permutation(combos * n_zip)[:n_streets] if combos * n_zip < 5_000_000 else \
        rng.choice(combos * n_zip, size=n_streets, replace=False)
    streets = pd.DataFrame({"name": np.asarray(STREET_NAMES, dtype=object)[slot % combos // len(SUFFIXES)],
                            "suffix": slot % len(SUFFIXES), "zip": slot // combos})
    streets["postal_code"] = zips["postal_code"].to_numpy()[streets["zip"]]
    streets["city"] = zips["city"].to_numpy()[streets["zip"]]
    street = rng.integers(0, n_streets, size=households)
    order = np.argsort(street, kind="stable")
    rank = np.empty(households, dtype=np.int64)  # position on the street: distinct house numbers
    rank[order] = np.arange(households) - np.searchsorted(street[order], street[order])
    number = 2 + rank * 4 + rng.integers(0, 2, size=households)
    unit = np.where(rng.random(households) < 0.12, rng.integers(1, 9, size=households), 0)
    phone_key = (2_000_000 + (rng.permutation(households) * 7919) % 7_000_000).astype(np.int64)
    homes = pd.DataFrame({"street": street, "number": number, "unit": unit,
                          "surname": rng.choice(len(LAST_NAMES), size=households, p=surname_weights()),
                          "phone_key": phone_key,
                          "area_code": pick(rng, AREA_CODES, households)})
    # relatives elsewhere: another address, the same surname and the family's shared phone number
    kin = np.flatnonzero(rng.random(households) < 0.03)
    other = rng.integers(0, households, size=len(kin))
    homes.loc[kin, ["surname", "phone_key", "area_code"]] = homes.loc[other, ["surname", "phone_key", "area_code"]].to_numpy()
    return Area(streets, homes)


def written_addresses(rng: np.random.Generator, area: Area, household: np.ndarray) -> pd.DataFrame:
    """address_line, city, state, postal_code as one feed writes them (suffix spelled out or abbreviated)."""
    homes = area.households.iloc[household]
    streets = area.streets.iloc[homes["street"].to_numpy()]
    suffix = streets["suffix"].to_numpy()
    style = rng.integers(0, 4, size=len(household))
    long_form = np.array([s for s, _ in SUFFIXES], dtype=object)[suffix]
    short = np.array([a for _, a in SUFFIXES], dtype=object)[suffix]
    word = np.where(style == 0, long_form, np.where(style == 1, short, np.where(style == 2, short + ".", long_form)))
    unit = homes["unit"].to_numpy()
    unit_text = np.where(unit > 0, pd.Series(unit).astype(str).radd(" Apt ").to_numpy(), "")
    line = (pd.Series(homes["number"].to_numpy()).astype(str) + " " + streets["name"].to_numpy() + " " + word + unit_text)
    line = line.where(style != 3, line.str.upper())
    return pd.DataFrame({"address_line": line.to_numpy(), "city": streets["city"].to_numpy(), "state": "MA",
                         "postal_code": streets["postal_code"].to_numpy()})


def written_phones(rng: np.random.Generator, area_code: np.ndarray, phone_key: np.ndarray) -> np.ndarray:
    """The same number in the formats feeds use: (617) 555-0101, 617-555-0101, 617.555.0101, +1 617 555 0101."""
    digits = pd.Series(phone_key).astype(str).str.zfill(7)
    ex, line = digits.str[:3].to_numpy(), digits.str[3:].to_numpy()
    style = rng.integers(0, 5, size=len(phone_key))
    options = [("(" + area_code + ") " + ex + "-" + line), (area_code + "-" + ex + "-" + line),
               (area_code + "." + ex + "." + line), ("+1 " + area_code + " " + ex + " " + line),
               (area_code + ex + line)]
    return np.choose(style, [np.asarray(o, dtype=object) for o in options])


def written_names(rng: np.random.Generator, canonical: np.ndarray, plain_share: float) -> np.ndarray:
    """Some feeds drop accents or shout in capitals; normalisation must see the same name."""
    text = pd.Series(canonical, dtype=object)
    plain = rng.random(len(canonical)) < plain_share
    # accents dropped the contract's way (NFKD, combining marks removed): Ł and ı have no decomposition
    # and stay, since "Lukasz" is another name to the contract's normalisation
    stripped = text.str.normalize("NFKD").str.replace(r"[\u0300-\u036f]", "", regex=True)
    shouted = rng.random(len(canonical)) < plain_share / 3
    out = text.where(~plain, stripped)
    return out.where(~shouted, out.str.upper()).to_numpy()


def build_patients(rng: np.random.Generator, n: int, month_start: np.datetime64) -> tuple[pd.DataFrame, Area]:
    """n patients in households; ground truth: first/last name ids, birth date, household, street, phone key."""
    sizes, p = HOUSEHOLD_SIZES
    size = rng.choice(sizes, size=n // 2 + 2, p=p)
    size = size[: np.searchsorted(np.cumsum(size), n) + 1]
    area = build_area(rng, len(size))
    household = np.repeat(np.arange(len(size)), size)[:n]
    member = np.arange(n) - np.searchsorted(household, household)
    homes = area.households.iloc[household]
    sex = pick(rng, ("F", "M"), n)
    first_pool = np.where(sex == "F", rng.integers(0, len(FIRST_NAMES_F), n),
                          len(FIRST_NAMES_F) + rng.integers(0, len(FIRST_NAMES_M), n))
    last = homes["surname"].to_numpy().copy()
    spouse_kept_name = (member == 1) & (rng.random(n) < 0.15)
    last[spouse_kept_name] = rng.choice(len(LAST_NAMES), size=int(spouse_kept_name.sum()), p=surname_weights())
    adult = member < 2
    age_days = np.where(adult, rng.integers(22 * 365, 88 * 365, n), rng.integers(0, 24 * 365, n))
    birth = month_start - age_days.astype("timedelta64[D]")
    deceased = rng.random(n) < 0.02
    died = month_start - rng.integers(35, 3 * 365, n).astype("timedelta64[D]")
    patients = pd.DataFrame({
        "mrn": "MRN" + pd.Series(rng.permutation(n) + 100_000).astype(str).str.zfill(7).to_numpy(),
        "first": canonical_first(first_pool), "last": canonical_last(last), "birth_date": birth,
        "death_date": np.where(deceased & (died > birth), died, np.datetime64("NaT")).astype("datetime64[D]"),
        "sex": sex, "household": household, "street": homes["street"].to_numpy(),
        "phone_key": homes["phone_key"].to_numpy(), "area_code": homes["area_code"].to_numpy(),
        "vip": rng.random(n) < 0.005, "restricted": rng.random(n) < 0.01})
    return patients, area


def canonical_first(ids: np.ndarray) -> np.ndarray:
    return np.asarray(FIRST_NAMES_F + FIRST_NAMES_M, dtype=object)[ids]


def canonical_last(ids: np.ndarray) -> np.ndarray:
    return np.asarray(LAST_NAMES, dtype=object)[ids]


def read_synthea(folder) -> pd.DataFrame:
    """Names (without Synthea's numeric suffixes), sex, birth and death dates from a Synthea
    patients.csv: the first patients of the simulated population take them."""
    from pathlib import Path

    from auditor.errors import InputError

    path = Path(folder) / "patients.csv"
    if not path.is_file():
        raise InputError(f"{folder} holds no Synthea patients.csv")
    try:
        raw = pd.read_csv(path, dtype=str, usecols=["FIRST", "LAST", "BIRTHDATE", "DEATHDATE", "GENDER"])
    except ValueError:
        raise InputError(f"{path.name}: not a Synthea patients file (FIRST, LAST, BIRTHDATE, DEATHDATE, GENDER)") from None
    strip = lambda s: s.fillna("").str.replace(r"\d+", "", regex=True).str.strip()  # noqa: E731
    out = pd.DataFrame({"first": strip(raw["FIRST"]), "last": strip(raw["LAST"]),
                        "birth_date": pd.to_datetime(raw["BIRTHDATE"], errors="coerce").to_numpy("datetime64[D]"),
                        "death_date": pd.to_datetime(raw["DEATHDATE"], errors="coerce").to_numpy("datetime64[D]"),
                        "sex": raw["GENDER"].fillna("").str[:1].str.upper()})
    return out[(out["first"] != "") & (out["last"] != "") & out["birth_date"].notna()].reset_index(drop=True)


def _canonical(names: pd.Series, canon: tuple[str, ...]) -> pd.Series:
    """A seeded name that normalises like one of ours is ours (so one identity has one spelling)."""
    from auditor.matching import normalize_text

    ours = {normalize_text(n): n for n in canon}
    return names.map(lambda n: ours.get(normalize_text(n), n))


def seed_patients(patients: pd.DataFrame, seeded: pd.DataFrame, month_start: np.datetime64) -> pd.DataFrame:
    """The first patients take the seeded names, sex and dates (deaths after the month: alive)."""
    k = min(len(patients), len(seeded))
    if k == 0:
        return patients
    s = seeded.iloc[:k]
    patients = patients.copy()
    rows = patients.index[:k]
    patients.loc[rows, "first"] = _canonical(s["first"], FIRST_NAMES_F + FIRST_NAMES_M).to_numpy()
    patients.loc[rows, "last"] = _canonical(s["last"], LAST_NAMES).to_numpy()
    patients.loc[rows, "birth_date"] = s["birth_date"].to_numpy()
    died = s["death_date"].to_numpy()
    patients.loc[rows, "death_date"] = np.where(died < month_start, died, np.datetime64("NaT"))
    patients.loc[rows, "sex"] = s["sex"].where(s["sex"] != "", "U").to_numpy()
    return patients
