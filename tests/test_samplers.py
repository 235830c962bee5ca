"""``samplers.guess``: the sampler an imported tool's property gets from its name, matched on whole words."""

from __future__ import annotations

import pytest

from data_gen import samplers


@pytest.mark.parametrize(
    "prop, expected",
    [
        # a hint inside another word is no match (these matched by substring once)
        ("timezone", "timezone"),  # not `time`
        ("namespace", "namespace"),  # not `name` (a person)
        ("stage", "deal_stage"),  # not `tag`
        ("ip_address", "ip_address"),  # not `address`
        ("tracking_number", "tracking_number"),  # not `number` (a small int)
        ("sport", None),  # not `port`
        ("update_mask", None),  # not `date`
        ("Authorization", None),  # not `author`
    ],
)
def test_hints_match_whole_words_not_substrings(prop, expected):
    assert samplers.guess(prop) == expected


@pytest.mark.parametrize(
    "prop, expected",
    [
        ("email", "email"),
        ("recipients", "email"),  # plural
        ("to", "email"),
        ("reply_to", None),  # `to` only as the whole name
        ("userId", "user_id"),  # camelCase
        ("user_id", "user_id"),
        ("sessionid", "session_id"),
        ("order_id", "order_id"),
        ("fileId", "uuid"),
        ("filename", "file_path"),
        ("output_path", "file_path"),
        ("file1Path", "file_path"),  # digits split off
        ("ipAddress", "ip_address"),
        ("timeZone", "timezone"),
        ("start_time", "time"),
        ("due_date", "date"),
        ("first_name", "first_name"),
        ("customer_name", "customer_id"),  # first match wins, as before
        ("page_size", "small_int"),
        ("topK", "small_int"),
        ("categories", "tag"),
        ("origin_airport", "airport"),
        ("replicas", "replicas"),
        ("role", "role"),
        ("HTTPServer", None),
    ],
)
def test_hints_still_match_names_made_of_those_words(prop, expected):
    assert samplers.guess(prop) == expected


def test_words_split_snake_camel_kebab_and_digits():
    assert samplers.words("IP-Address") == samplers.words("ipAddress") == "ip address"
    assert samplers.words("HTTPServer_url") == "http server url"
    assert samplers.words("file1Path") == "file 1 path"
    assert samplers.words("__x..y__") == "x y"


def test_every_hint_names_a_known_sampler():
    assert {name for _, name in samplers._HINTS} <= set(samplers.SAMPLERS)


def test_the_word_lists_and_fixed_choices_live_in_the_data_file():
    import yaml

    data = yaml.safe_load((samplers.Path(samplers.__file__).with_name("samplers.yaml")).read_text())
    words = data["words"]
    assert (words["first"], tuple(words["sentences"])) == (samplers.FIRST, samplers.SENTENCES)
    assert all(values for values in words.values())
    for name, values in data["choices"].items():  # each fixed choice is a sampler, drawing from its list
        assert values and samplers.sample(name, samplers.Random(7)) in values, name
