"""The genre vocabulary: one spelling per genre, applied to what is stored (ingestion, admin writes)
and to what is asked (filters), so `Sci-Fi`, `science-fiction` and `Science  Fiction` are one genre.

A genre is spelled in lower case with single spaces (`-` and `_` count as spaces); the synonyms
below then map common alternative names to that spelling. Genres outside the table keep their
normalised spelling.
"""

import re

SEPARATORS = re.compile(r"[\s_\-]+")

SYNONYMS = {
    "sci fi": "science fiction",
    "scifi": "science fiction",
    "sf": "science fiction",
    "science fiction": "science fiction",
    "sciencefiction": "science fiction",
    "hard sci fi": "hard science fiction",
    "rpg": "role playing",
    "roleplaying": "role playing",
    "role playing game": "role playing",
    "jrpg": "japanese role playing",
    "arpg": "action role playing",
    "fps": "first person shooter",
    "rts": "real time strategy",
    "rom com": "romantic comedy",
    "romcom": "romantic comedy",
    "sol": "slice of life",
    "slice of life": "slice of life",
    "ya": "young adult",
    "scifi fantasy": "science fantasy",
    "doc": "documentary",
    "docs": "documentary",
    "documentaries": "documentary",
    "hiphop": "hip hop",
    "hip hop": "hip hop",
    "rnb": "r&b",
    "r and b": "r&b",
    "rhythm and blues": "r&b",
    "kpop": "k pop",
    "jpop": "j pop",
    "post apoc": "post apocalyptic",
    "postapocalyptic": "post apocalyptic",
    "horror comedy": "comedy horror",
    "crime fiction": "crime",
    "detective": "detective fiction",
    "whodunit": "mystery",
    "superheroes": "superhero",
    "super hero": "superhero",
    "animated": "animation",
    "musicals": "musical",
    "thrillers": "thriller",
    "mysteries": "mystery",
    "comedies": "comedy",
    "dramas": "drama",
    "cyber punk": "cyberpunk",
    "steam punk": "steampunk",
}


def normalize_genre(genre: str) -> str:
    spaced = SEPARATORS.sub(" ", genre.strip().lower()).strip()
    return SYNONYMS.get(spaced, spaced)


def normalize_genres(genres: list[str]) -> list[str]:
    """Each genre in its one spelling, first occurrence kept, empty ones dropped."""
    return list(dict.fromkeys(g for g in (normalize_genre(genre) for genre in genres) if g))
