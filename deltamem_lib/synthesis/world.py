"""The procedural world: fact types, value catalogues and user profiles (DeltaMem §3.2, step 1).

DeltaMem's data synthesis starts from a *seed persona*, expands it into a *full profile* and
takes part of that profile as the *initial memory state* ``S_0``. The paper does this with an
LLM; this module does it with catalogues, so the data is free, offline and exactly
reproducible for a seed.

A profile is a list of :class:`Fact` objects. Each fact has a *fact type* (``home``,
``occupation``, ``pet`` …, see :data:`FACT_TYPES`) and attribute values drawn from the
catalogues below. A fact type knows how to write its fact as a memory entry, one atomic
third-person sentence (``"User lives in Leeds."``), which attribute values are the entry's
*keywords* (the phrases the MLD reward's lexical-fidelity check looks for) and how to ask a
probe question about it. Facts that are not in the initial memory are *hidden*: the user
mentions them in passing in later sessions, which is where DeltaMem's *padding* ADDs come
from.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FACT_TYPES",
    "Fact",
    "FactType",
    "Profile",
    "article",
    "build_profile",
]

# ----- catalogues -----------------------------------------------------------------------------
CITIES = [
    "Leeds", "Bristol", "Glasgow", "Manchester", "Cardiff", "Edinburgh", "Brighton", "Norwich",
    "York", "Sheffield", "Belfast", "Nottingham", "Liverpool", "Oxford", "Bath", "Newcastle",
    "Dublin", "Lisbon", "Porto", "Barcelona", "Valencia", "Berlin", "Hamburg", "Munich",
    "Amsterdam", "Rotterdam", "Copenhagen", "Stockholm", "Vienna", "Prague", "Toronto",
    "Vancouver", "Montreal", "Melbourne", "Sydney", "Auckland", "Wellington", "Boston",
    "Chicago", "Seattle", "Austin", "Denver",
]
# Job titles per sector, and employers per sector (fictional organisations).
JOBS = {
    "health": ["nurse", "paramedic", "physiotherapist", "pharmacist", "radiographer", "midwife",
               "occupational therapist"],
    "tech": ["software developer", "data analyst", "UX designer", "QA engineer", "IT support technician",
             "data engineer", "product manager"],
    "education": ["primary school teacher", "maths teacher", "teaching assistant", "librarian",
                  "lecturer", "school counsellor"],
    "business": ["accountant", "marketing coordinator", "HR advisor", "sales manager",
                 "project manager", "financial analyst", "recruiter"],
    "creative": ["graphic designer", "copywriter", "photographer", "video editor", "illustrator",
                 "sound engineer"],
    "trades": ["electrician", "chef", "carpenter", "mechanic", "baker", "plumber", "barista"],
}
EMPLOYERS = {
    "health": ["St Mary's Hospital", "Riverside Clinic", "Northgate Medical Centre",
               "Westfield Ambulance Service", "Harbour View Care Home", "Elm Park Pharmacy"],
    "tech": ["Brightline Software", "Northwind Analytics", "Kestrel Labs", "Pixelforge",
             "Quantia", "Cobalt Systems", "Lattice Cloud"],
    "education": ["Oakfield Primary School", "Hillcrest Academy", "Greenbank Library",
                  "Meadowside College", "St Anne's School", "the Open Learning Trust"],
    "business": ["Harper and Cole", "Lumen Insurance", "Crestway Bank", "Alder Consulting",
                 "Bramble Retail", "Ironbridge Logistics"],
    "creative": ["Foxglove Studio", "Blue Heron Media", "Inkwell Agency", "Lantern Films",
                 "Paper Crane Press", "Echo Park Records"],
    "trades": ["The Copper Pot", "Marlow Builders", "Speedwell Garage", "Bean There Cafe",
               "Hearth and Crumb Bakery", "Greaves Electrical"],
}
FEMALE_NAMES = [
    "Ana", "Priya", "Maya", "Chloe", "Fatima", "Grace", "Hannah", "Isla", "Julia", "Keiko",
    "Lena", "Mei", "Nadia", "Olivia", "Rosa", "Sofia", "Tara", "Uma", "Zara", "Amara", "Beatriz",
    "Clara", "Ingrid", "Leila", "Niamh", "Yasmin", "Elena", "Freya", "Aisha", "Marta",
]
MALE_NAMES = [
    "Tom", "Omar", "Liam", "Mateo", "Noah", "Arjun", "Ben", "Callum", "Diego", "Ethan", "Felix",
    "Hugo", "Ivan", "Jonas", "Kofi", "Luca", "Marcus", "Nikhil", "Oscar", "Rafael", "Sami",
    "Theo", "Yusuf", "Andrei", "Dev", "Emil", "Finn", "Kenji", "Malik", "Pavel",
]
NEUTRAL_NAMES = ["Sam", "Alex", "Jordan", "Robin", "Charlie", "Jamie", "Kai", "Rowan", "Riley", "Quinn"]
SURNAMES = [
    "Okafor", "Patel", "Nowak", "Silva", "Kim", "Murphy", "Haddad", "Jensen", "Costa", "Tanaka",
    "Brown", "Rossi", "Novak", "Ahmed", "Fischer", "Lindqvist", "Moreau", "Walsh", "Mensah",
    "Garcia", "Ivanova", "Chen", "Kowalski", "Oduya", "Fraser", "Nair", "Bauer", "Reyes",
]
PET_SPECIES = ["dog", "cat", "rabbit", "parrot", "tortoise", "hamster", "guinea pig", "ferret"]
PET_NAMES = [
    "Biscuit", "Pepper", "Mochi", "Luna", "Rocky", "Olive", "Ziggy", "Pickle", "Nugget",
    "Maple", "Bramble", "Juniper", "Waffles", "Clover", "Pixel", "Tofu", "Bean", "Sprout",
    "Hazel", "Crumpet", "Marble", "Toast", "Pumpkin", "Noodle", "Fig", "Basil", "Echo",
    "Domino", "Sherlock", "Pretzel", "Kiwi", "Dumpling", "Button", "Sable", "Fudge",
]
INJURIES = ["sprained ankle", "broken wrist", "pulled hamstring", "fractured toe",
            "dislocated shoulder", "torn calf muscle", "cracked rib", "twisted knee"]
CONDITIONS = ["asthma", "migraines", "type 1 diabetes", "hay fever", "eczema", "coeliac disease"]
ALLERGENS = ["peanuts", "shellfish", "cats", "pollen", "penicillin", "sesame", "dairy", "wasp stings"]
DIETS = ["vegetarian", "vegan", "pescatarian", "dairy-free", "gluten-free"]
HOBBIES = [
    "bouldering", "pottery", "salsa dancing", "birdwatching", "chess", "woodworking", "knitting",
    "film photography", "gardening", "sea swimming", "playing the cello", "playing the guitar",
    "trail running", "baking sourdough", "watercolour painting", "board games", "kayaking",
    "calligraphy", "stand-up paddleboarding", "beekeeping", "amateur astronomy", "crosswords",
]
HABITS = ["running before work", "meditating every morning", "smoking", "cycling to work",
          "journaling every night", "cold showers", "intermittent fasting", "a daily crossword",
          "walking ten thousand steps a day", "drinking coffee late at night"]
BAD_HABITS = ("smoking", "drinking coffee late at night")  # held, quit, never newly taken up
DEGREES = [  # (keyword, noun phrase without article)
    ("master's", "master's degree"), ("PhD", "PhD"), ("bachelor's", "bachelor's degree"),
]
FIELDS = ["data science", "nursing", "marine biology", "history", "economics", "architecture",
          "computer science", "psychology", "chemistry", "linguistics", "graphic design",
          "public health", "mechanical engineering", "philosophy", "education"]
UNIVERSITIES = ["the Open University", "the University of Leeds", "Bristol", "UCL", "Edinburgh",
                "a uni up north", "King's", "Manchester Met"]
CARS = ["Toyota Corolla", "Volkswagen Golf", "Honda Jazz", "Ford Fiesta", "Tesla Model 3",
        "Fiat 500", "Kia Niro", "Skoda Octavia", "Mini Cooper", "Volvo XC40", "Audi A3",
        "Nissan Leaf", "Renault Clio", "Mazda MX-5", "Hyundai Kona", "Peugeot 208"]
PLACES = ["Japan", "Iceland", "Portugal", "Peru", "Vietnam", "New Zealand", "Morocco", "Norway",
          "Mexico", "Greece", "Canada", "Kenya", "Sri Lanka", "Chile", "Croatia", "Georgia",
          "South Korea", "Scotland", "Costa Rica", "Jordan"]
CUISINES = ["Thai", "Ethiopian", "Korean", "Lebanese", "Mexican", "Italian", "Japanese",
            "Georgian", "Peruvian", "Indian", "Vietnamese", "Greek", "Sichuan", "Turkish"]
MUSIC = ["jazz", "synth-pop", "bluegrass", "drum and bass", "K-pop", "classical music",
         "Afrobeats", "indie folk", "heavy metal", "bossa nova", "hip hop", "soul"]
AUTHORS = ["Ursula K. Le Guin", "Terry Pratchett", "Toni Morrison", "Haruki Murakami",
           "Agatha Christie", "Kazuo Ishiguro", "Octavia Butler", "Jane Austen", "Sally Rooney",
           "Chimamanda Ngozi Adichie", "Italo Calvino", "Hilary Mantel", "Ted Chiang", "Elena Ferrante"]
FAMILY_RELATIONS = ["sister", "brother", "daughter", "son"]

def article(phrase: str) -> str:
    """``"a nurse"``, ``"an accountant"``, ``"an HR advisor"``, ``"a UX designer"``."""
    first = phrase.split()[0]
    if len(first) > 1 and first.isupper():  # an acronym is read letter by letter
        vowel_sound = first[0] in "AEFHILMNORSX"
    elif first.lower().startswith(("uni", "use", "usu", "eu", "one")):
        vowel_sound = False
    else:
        vowel_sound = first[0].lower() in "aeiou"
    return f"{'an' if vowel_sound else 'a'} {phrase}"


# ----- fact types -----------------------------------------------------------------------------
@dataclass(frozen=True)
class FactType:
    """How one kind of fact is written as a memory entry and asked about.

    ``templates`` map a fact's ``form`` attribute (``"default"`` when absent) to a sentence
    with ``{U}`` for the subject (``User`` in memory entries, ``the user`` in questions).
    ``keyword_keys`` name the attributes whose values are the entry's keywords (empty values
    are skipped). ``question`` and ``answer_key`` give the probe question about the current
    value; ``answer_key=None`` means a yes/no question.
    """

    name: str
    category: str
    templates: Mapping[str, str]
    keyword_keys: tuple[str, ...]
    question: Mapping[str, str]
    answer_key: Mapping[str, str | None]
    correctable: tuple[str, ...] = ()

    def template(self, attrs: Mapping[str, str]) -> str:
        return self.templates[attrs.get("form", "default")]

    def form_of(self, content: str) -> str:
        """Which form a memory sentence was written in (by the template's fixed opening)."""
        for form, template in self.templates.items():
            if content.startswith("User" + template.removeprefix("{U}").split("{", 1)[0]):
                return form
        return next(iter(self.templates))

    def probe(self, content: str, keywords: tuple[str, ...]) -> tuple[str, str, str]:
        """``(question, answer, answer_type)`` about an entry of this type, from its keywords.

        ``answer_type`` is ``"span"`` (the answer is a keyword) or ``"yes_no"``.
        """
        form = self.form_of(content)
        values = dict(zip(reversed(self.keyword_keys), reversed(keywords)))  # only a leading key may be empty
        question = self.question.get(form, self.question.get("default", "")).format(**values)
        key = self.answer_key.get(form, self.answer_key.get("default"))
        return (question, "yes", "yes_no") if key is None else (question, values[key], "span")


def _ft(name: str, category: str, template: str | dict[str, str], keys: tuple[str, ...],
        question: str | dict[str, str], answer_key: str | None | dict[str, str | None],
        **kw: Any) -> FactType:
    def per_form(v: Any) -> dict[str, Any]:
        return v if isinstance(v, dict) else {"default": v}
    return FactType(name, category, per_form(template), keys, per_form(question), per_form(answer_key), **kw)


FACT_TYPES: dict[str, FactType] = {f.name: f for f in [
    _ft("home", "home", "{U} lives in {city}.", ("city",), "Which city does the user live in?", "city",
        correctable=("city",)),
    _ft("occupation", "work", "{U} works as {a_job}.", ("job",), "What does the user do for a living?",
        "job", correctable=("job",)),
    _ft("employer", "work", "{U} works at {company}.", ("company",),
        "Which organisation does the user work for?", "company", correctable=("company",)),
    _ft("partner", "relationships", "{U} is {rel} {name}.", ("rel_kw", "name"),
        "What is the name of the user's partner?", "name"),
    _ft("best_friend", "relationships", "{U}'s best friend is {name}.", ("name",),
        "Who is the user's best friend?", "name", correctable=("name",)),
    _ft("family", "family", "{U} has {a_relation} named {name}.", ("relation", "name"),
        "What is the name of the user's {relation}?", "name", correctable=("name",)),
    _ft("pet", "pets", "{U} has {a_species} named {name}.", ("species", "name"),
        "What is the name of the user's {species}?", "name", correctable=("name",)),
    _ft("injury", "health and diet", "{U} has {a_injury}.", ("injury",),
        "What injury is the user recovering from?", "injury"),
    _ft("condition", "health and diet", "{U} has {condition}.", ("condition",),
        "Which health condition does the user live with?", "condition"),
    _ft("allergy", "health and diet", "{U} is allergic to {allergen}.", ("allergen",),
        "What is the user allergic to?", "allergen", correctable=("allergen",)),
    _ft("diet", "health and diet", "{U} is {diet}.", ("diet",), "Which diet does the user follow?",
        "diet", correctable=("diet",)),
    _ft("hobby", "hobbies", "{U} enjoys {hobby}.", ("hobby",), "Does the user currently enjoy {hobby}?",
        None),
    _ft("habit", "hobbies", "{U} has a habit of {habit}.", ("habit",),
        "Does the user currently have a habit of {habit}?", None),
    _ft("education", "education",
        {"studying": "{U} is studying for {a_degree} in {field}.", "done": "{U} has {a_degree} in {field}."},
        ("degree_kw", "field"),
        {"studying": "What subject is the user studying?", "done": "In which subject does the user hold a "
                                                                   "degree?"},
        "field", correctable=("field",)),
    _ft("vehicle", "possessions", "{U} drives {a_car}.", ("car",), "What car does the user drive?", "car",
        correctable=("car",)),
    _ft("trip", "plans",
        {"planning": "{U} is planning a trip to {place}.", "done": "{U} has been to {place}."},
        ("place",),
        {"planning": "Where is the user planning to travel?", "done": "Has the user been to {place}?"},
        {"planning": "place", "done": None}),
    _ft("cuisine", "tastes", "{U}'s favourite cuisine is {cuisine}.", ("cuisine",),
        "What is the user's favourite cuisine?", "cuisine", correctable=("cuisine",)),
    _ft("music", "tastes", "{U}'s favourite kind of music is {genre}.", ("genre",),
        "What is the user's favourite kind of music?", "genre"),
    _ft("author", "tastes", "{U}'s favourite author is {author}.", ("author",),
        "Who is the user's favourite author?", "author"),
]}

_ARTICLE_KEYS = ("job", "relation", "species", "injury", "degree", "car")


@dataclass(frozen=True)
class Fact:
    """One true fact about the user.

    ``slot`` identifies the fact across its changes (a move changes the ``home`` fact's city
    but keeps its slot), which is what lets step 3 map a change to the memory id it touches.
    """

    type: str
    attrs: Mapping[str, str]
    slot: str

    @property
    def spec(self) -> FactType:
        return FACT_TYPES[self.type]

    def context(self, prefix: str = "") -> dict[str, str]:
        """Attributes plus derived forms (``a_job`` …), keys prefixed (``old_`` for a previous value)."""
        ctx = dict(self.attrs)
        for k in _ARTICLE_KEYS:
            if k in ctx:
                ctx[f"a_{k}"] = article(ctx[k])
        if "gender" in ctx:
            he, him, his = {"f": ("she", "her", "her"), "m": ("he", "him", "his")}.get(
                ctx["gender"], ("they", "them", "their"))
            ctx.update(he=he, him=him, his=his, He=he.capitalize(), His=his.capitalize())
        return {f"{prefix}{k}": v for k, v in ctx.items()}

    def content(self) -> str:
        """The memory entry: one third-person sentence, ``"User lives in Leeds."``."""
        return self.spec.template(self.attrs).format(U="User", **self.context())

    def claim(self) -> str:
        """The fact as a clause for questions: ``"the user lives in Leeds"``."""
        return self.spec.template(self.attrs).format(U="the user", **self.context()).rstrip(".")

    def keywords(self) -> tuple[str, ...]:
        return tuple(self.attrs[k] for k in self.spec.keyword_keys if self.attrs.get(k))

    def values(self) -> set[str]:
        """Every attribute value (used to keep distractors off the user's own facts)."""
        return {v for k, v in self.attrs.items() if k not in ("form", "gender", "rel", "rel_kw", "sector")}

    def replace(self, **changes: str) -> Fact:
        return Fact(self.type, {**self.attrs, **changes}, self.slot)


@dataclass
class Profile:
    """Step 1's output: the seed persona, the full profile and which facts start in memory."""

    user_id: str
    name: str
    age: int
    seed: str
    facts: list[Fact]
    initial: list[str]  # slots of the facts in the initial memory, in order
    start_date: str
    used_names: set[str] = field(default_factory=set)

    @property
    def first_name(self) -> str:
        return self.name.split()[0]

    def to_dict(self) -> dict[str, Any]:
        """The ``persona`` field of an episode."""
        return {
            "name": self.name,
            "age": self.age,
            "seed": self.seed,
            "profile": [{"category": f.spec.category, "fact_type": f.type, "content": f.content(),
                         "keywords": list(f.keywords()), "in_initial_memory": f.slot in self.initial}
                        for f in self.facts],
        }


class _Slots:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"f{self.n}"


def pick_name(rng: random.Random, used: set[str], gender: str | None = None) -> tuple[str, str]:
    """A first name not used yet for this user's world, with a gender code (f, m, n)."""
    pools = {"f": FEMALE_NAMES, "m": MALE_NAMES, "n": NEUTRAL_NAMES}
    g = gender or rng.choices("fmn", weights=(45, 45, 10))[0]
    choices = [n for n in pools[g] if n not in used] or [n for p in pools.values() for n in p
                                                         if n not in used]
    name = rng.choice(choices)
    used.add(name)
    return name, g


def new_fact(ftype: str, rng: random.Random, slot: str, *, used_names: set[str],
             exclude: set[str] = frozenset(), sector: str | None = None, **fixed: str) -> Fact:
    """A random fact of a type, avoiding values in ``exclude``; ``fixed`` attrs are kept."""

    def choose(pool: list[str]) -> str:
        options = [v for v in pool if v not in exclude] or list(pool)
        return rng.choice(options)

    a: dict[str, str] = {}
    if ftype == "home":
        a = {"city": choose(CITIES)}
    elif ftype == "occupation":
        sector = sector or rng.choice(list(JOBS))
        a = {"job": choose(JOBS[sector]), "sector": sector}
    elif ftype == "employer":
        sector = sector or rng.choice(list(EMPLOYERS))
        a = {"company": choose(EMPLOYERS[sector]), "sector": sector}
    elif ftype in ("partner", "best_friend"):
        name, g = pick_name(rng, used_names)
        a = {"name": name, "gender": g}
        if ftype == "partner":
            a.update(rel="dating", rel_kw="", form="default")
    elif ftype == "family":
        relation = fixed.get("relation") or rng.choice(FAMILY_RELATIONS)
        g = "f" if relation in ("sister", "daughter") else "m"
        a = {"relation": relation, "name": pick_name(rng, used_names, g)[0], "gender": g}
    elif ftype == "pet":
        a = {"species": choose(PET_SPECIES), "name": choose(PET_NAMES), "gender": rng.choice("fm")}
    elif ftype == "injury":
        a = {"injury": choose(INJURIES)}
    elif ftype == "condition":
        a = {"condition": choose(CONDITIONS)}
    elif ftype == "allergy":
        a = {"allergen": choose(ALLERGENS)}
    elif ftype == "diet":
        a = {"diet": choose(DIETS)}
    elif ftype == "hobby":
        a = {"hobby": choose(HOBBIES)}
    elif ftype == "habit":
        a = {"habit": choose(HABITS)}
    elif ftype == "education":
        kw, degree = rng.choice(DEGREES)
        a = {"degree_kw": kw, "degree": degree, "field": choose(FIELDS),
             "form": rng.choice(["studying", "done", "done"]), "school": rng.choice(UNIVERSITIES)}
    elif ftype == "vehicle":
        a = {"car": choose(CARS)}
    elif ftype == "trip":
        a = {"place": choose(PLACES), "form": "planning"}
    elif ftype == "cuisine":
        a = {"cuisine": choose(CUISINES)}
    elif ftype == "music":
        a = {"genre": choose(MUSIC)}
    elif ftype == "author":
        a = {"author": choose(AUTHORS)}
    else:
        raise KeyError(f"unknown fact type {ftype!r}; known: {', '.join(FACT_TYPES)}")
    a.update(fixed)
    return Fact(ftype, a, slot)


# Probability that a profile has a fact of each optional type (home and work always exist).
_OPTIONAL = [("partner", 0.55), ("best_friend", 0.5), ("family", 0.7), ("family", 0.35),
             ("pet", 0.45), ("condition", 0.2), ("allergy", 0.3), ("diet", 0.4), ("hobby", 0.9),
             ("hobby", 0.6), ("hobby", 0.3), ("habit", 0.45), ("education", 0.45), ("vehicle", 0.55),
             ("trip", 0.2), ("cuisine", 0.6), ("music", 0.55), ("author", 0.45)]


def build_profile(user_id: str, rng: random.Random, *, min_initial: int = 4, max_initial: int = 7,
                  start_year: tuple[int, int] = (2021, 2024)) -> Profile:
    """Step 1: seed persona → full profile → which facts start in memory.

    The seed persona is a name, an age and a one-line description; the full profile adds
    every optional fact with its catalogue probability; home, occupation and employer always
    start in memory, plus ``min_initial``–``max_initial`` facts in all, the rest hidden.
    """
    slot = _Slots()
    used: set[str] = set()
    first, gender = pick_name(rng, used)
    name = f"{first} {rng.choice(SURNAMES)}"
    age = rng.randint(22, 61)
    sector = rng.choice(list(JOBS))
    facts = [new_fact("home", rng, slot(), used_names=used),
             new_fact("occupation", rng, slot(), used_names=used, sector=sector),
             new_fact("employer", rng, slot(), used_names=used, sector=sector)]
    taken: set[tuple[str, str]] = set()
    for ftype, p in _OPTIONAL:
        if rng.random() >= p:
            continue
        values = {v for f in facts if f.type == ftype for v in f.values()}
        fact = new_fact(ftype, rng, slot(), used_names=used, exclude=values)
        key = (ftype, fact.attrs.get("relation") or fact.attrs.get("species") or fact.attrs.get("hobby")
               or fact.attrs.get("habit") or "")
        if key in taken or (ftype == "family" and fact.attrs["relation"] in ("daughter", "son") and age < 26):
            continue
        taken.add(key)
        facts.append(fact)
    optional = [f.slot for f in facts[3:]]
    rng.shuffle(optional)
    n_initial = max(3, min(len(facts), rng.randint(min_initial, max_initial)))
    initial = [f.slot for f in facts[:3]] + optional[: n_initial - 3]
    initial.sort(key=lambda s: int(s[1:]))
    year = rng.randint(*start_year)
    start_date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    job = facts[1].attrs["job"]
    hobby = next((f.attrs["hobby"] for f in facts if f.type == "hobby"), None)
    seed = f"{article(job).capitalize()} in {facts[0].attrs['city']}, aged {age}" + (
        f", who is into {hobby}" if hobby else "") + "."
    return Profile(user_id, name, age, seed, facts, initial, start_date, used)

