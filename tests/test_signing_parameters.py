"""The signed request's timestamp and recvWindow are read without decoding every parameter (the authorize
hot path); what they read must be exactly what the full parse (parse_qsl) reads, for any parameter string."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from onboarding.keys.signing import MAX_FIELDS, _parameters, _parsed, read_request

# Parameter strings built from the pieces that matter: the two names (plain, percent- or plus-encoded),
# other names, separators, percent escapes, plus signs and blanks.
pieces = st.sampled_from(["timestamp", "recvWindow", "time%73tamp", "recv%57indow", "recv+Window", "timestamp+",
                          "symbol", "side", "=", "&", "&&", "%", "%2", "%41", "%zz", "+", " ", "1", "60000",
                          "1733390000000", "é", "%C3%A9", ";"])
parameter_strings = st.lists(pieces, max_size=30).map("".join)


@settings(max_examples=1000)  # a pure function: a thousand strings take about a second
@given(query=parameter_strings, body=parameter_strings)
def test_the_quick_read_agrees_with_the_full_parse(query, body):
    full = _parsed(query, body)
    assert _parameters(query, body) == {name: full[name] for name in ("timestamp", "recvWindow") if name in full}


def test_a_string_with_too_many_fields_is_not_read_either_way():
    crowded = "&".join(["a=1"] * MAX_FIELDS) + "&timestamp=5"
    assert _parameters(crowded, "") == {} == {k: v for k, v in _parsed(crowded, "").items() if k == "timestamp"}
    assert read_request(crowded, "").timestamp is None


def test_an_encoded_name_is_still_the_parameter_it_spells():
    assert read_request("symbol=X&time%73tamp=1733390000000&recvWindow=7000", "").timestamp == 1733390000000
    assert read_request("symbol=X&timestamp=1733390000000&recv%57indow=7000", "").recv_window == 7000
