"""A charmony corpus plugin: nursery-rhyme-like verses that the plugin makes up itself."""

import random

from charmony.api import CorpusError, CorpusPlugin, Document, hookimpl

WHO = ["the cat", "a little mouse", "old king cole", "little bo peep", "the cow", "jack and jill"]
DID = ["ran up", "jumped over", "sat on", "fell down", "went round"]
WHAT = ["the clock", "the moon", "a wall", "the hill", "the mulberry bush"]


class NurseryRhymes(CorpusPlugin):
    name = "nursery"
    description = "Nursery-rhyme-like verses, made up by the plugin."
    default_source = "verses the plugin makes up"
    options = {"verses": "how many verses to make (default 2000)"}

    def documents(self, sources, options):
        if sources:
            raise CorpusError("the nursery corpus makes up its own verses; give no --source")
        verses = options.get("verses", "2000")
        if not verses.isdigit():
            raise CorpusError(f"--option verses={verses}: give a whole number")
        pick = random.Random(0).choice  # seeded: prepare reads the corpus twice and must get the same verses
        for _ in range(int(verses)):
            yield Document("\n".join(f"{pick(WHO)} {pick(DID)} {pick(WHAT)}" for _ in range(2)) + "\n")


@hookimpl
def register_corpora(register):
    register(NurseryRhymes())
