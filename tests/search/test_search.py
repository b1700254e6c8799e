"""Full-text search on the backend under test (SQLite FTS5, or PostgreSQL when
KITH_TEST_DATABASE_URL is set): matching, ranking, highlights, the index following
writes and transactions, and tenant isolation."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from kith.auth.models import Organization
from kith.search import (
    Document,
    highlights,
    index_document,
    index_documents,
    parse_query,
    remove_document,
    remove_organization,
    search,
)
from kith.search.models import SearchDocument
from tests.conftest import TransactionalDatabase
from tests.factories import Factory
from tests.search.conftest import Index


@pytest.fixture
def people(index: Index) -> dict[str, uuid.UUID]:
    return {
        "ada": index.add(
            "Ada Lovelace",
            emails=["ada.lovelace@acme.example", "ada@home.example"],
            subtitle="Analytical Engines Ltd, Mathematician",
            tags=["vip", "key account"],
            body="Met at the Royal Society. Interested in the difference engine.",
        ),
        "john": index.add("John Smith", emails=["j.smith@globex.example"], subtitle="Globex"),
        "johanna": index.add("Johanna Schmidt", emails=["johanna@initech.example"]),
        "grace": index.add(
            "Grace Hopper", emails=["grace@navy.example"], body="Knows Ada from the conference."
        ),
    }


def test_names_match_by_prefix(index: Index, people: dict[str, uuid.UUID]) -> None:
    assert set(index.find("joh")) == {people["john"], people["johanna"]}
    assert index.find("john") == [people["john"]]
    assert index.find("lovel") == [people["ada"]]
    assert index.find("SMI") == [people["john"]]
    assert index.find("zzz") == []


@pytest.mark.parametrize(
    "query",
    [
        "ada.lovelace@acme.example",  # full address
        "ADA.Lovelace@acme.exa",  # being typed
        "<ada.lovelace@acme.example>",
        "ada.lovelace",  # local part
        "lovelace@",
        "acme.example",  # domain
        "@acme",
        "ada@acme",  # local part and domain, both prefixes
        "analytical",  # company
        "mathemat",  # position
        "key account",  # a tag of two words
        "royal society",  # notes
    ],
)
def test_emails_company_tags_and_notes_are_searchable(
    index: Index, people: dict[str, uuid.UUID], query: str
) -> None:
    assert index.find(query) == [people["ada"]]


def test_a_whole_address_matches_that_address_only(
    index: Index, people: dict[str, uuid.UUID]
) -> None:
    # Same words as ada.lovelace@acme.example, spread over fields and addresses.
    spread = index.add("Ada Lovelace", emails=["countess@acme.example"])
    assert set(index.find("ada lovelace acme example")) == {people["ada"], spread}
    assert index.find("ada.lovelace@acme.example") == [people["ada"]]
    assert index.find("j.smith@globex.example") == [people["john"]]
    assert index.find("j.smith@initech.example") == []
    # An address's words run together are not a word of the document.
    assert index.find("adalovelace") == []
    assert index.find("lovelaceacme") == []


def test_all_words_must_match(index: Index, people: dict[str, uuid.UUID]) -> None:
    assert index.find("john globex") == [people["john"]]
    assert index.find("john initech") == []
    assert index.find("jo sch") == [people["johanna"]]
    assert set(index.find("ada")) == {people["ada"], people["grace"]}
    assert index.find("ada royal") == [people["ada"]]


def test_a_title_match_ranks_above_a_body_only_match(
    index: Index, people: dict[str, uuid.UUID]
) -> None:
    ranked = index.ranked("ada")
    assert [record_id for record_id, _ in ranked] == [people["ada"], people["grace"]]
    assert ranked[0][1] < ranked[1][1]  # lower rank is better


def test_field_weights_order_title_subtitle_tags_body(index: Index) -> None:
    body = index.add("Person One", body="orbital mechanics")
    tags = index.add("Person Two", tags=["orbital"])
    subtitle = index.add("Person Three", subtitle="Orbital Inc")
    title = index.add("Orbital Person")
    assert index.find("orbital") == [title, subtitle, tags, body]


def test_diacritics_are_ignored_both_ways(index: Index) -> None:
    jose = index.add("José Núñez", subtitle="Société Générale")
    plain = index.add("Jose Nunez")
    assert set(index.find("jose")) == {jose, plain}
    assert set(index.find("JOSÉ NÚÑ")) == {jose, plain}
    assert index.find("societe gener") == [jose]


def test_full_width_and_case_are_folded(index: Index) -> None:
    record = index.add("\uff21\uff23\uff2d\uff25 Corp")
    assert index.find("acme") == [record]


def test_updating_a_document_reindexes_it(index: Index) -> None:
    record = index.add("Ada Lovelace", emails=["ada@acme.example"])
    index.add("Ada King", emails=["countess@lovelace.example"], record_id=record)
    assert index.find("king") == [record]
    assert index.find("countess") == [record]
    assert index.find("acme") == []
    # Indexing the same text again is a no-op, still found once.
    index.add("Ada King", emails=["countess@lovelace.example"], record_id=record)
    assert index.find("ada") == [record]


def test_removing_documents(
    session: Session, index: Index, org: uuid.UUID, people: dict[str, uuid.UUID]
) -> None:
    remove_document(session, org, "contact", people["john"])
    assert index.find("joh") == [people["johanna"]]
    remove_document(session, org, "contact", people["john"])  # already gone: fine
    assert remove_organization(session, org) == 3
    assert index.find("ada") == []
    assert index.find("joh") == []


def test_other_organizations_documents_never_match(
    session: Session, factory: Factory, index: Index, people: dict[str, uuid.UUID]
) -> None:
    other = Index(session, factory.organization())
    theirs = other.add("Ada Lovelace", emails=["ada.lovelace@acme.example"])
    assert index.find("ada lovelace") == [people["ada"]]
    assert other.find("ada") == [theirs]
    assert other.find("joh") == []
    assert highlights(
        session,
        organization_id=other.organization_id,
        kind="contact",
        query="ada",
        record_ids=[people["ada"], theirs],
    ).keys() == {theirs}
    remove_organization(session, other.organization_id)
    assert index.find("ada lovelace") == [people["ada"]]


def test_kinds_are_separate(index: Index) -> None:
    contact = index.add("Acme Liaison")
    company = index.add("Acme Corporation", kind="company")
    assert index.find("acme") == [contact]
    assert index.find("acme", kind="company") == [company]


def test_the_index_is_part_of_the_callers_transaction(
    db: TransactionalDatabase, org: uuid.UUID
) -> None:
    record = uuid.uuid4()

    def index_then_fail() -> None:
        with db.transaction() as session:
            index_document(
                session, organization_id=org, kind="contact", record_id=record, title="Rollback Me"
            )
            assert Index(session, org).find("rollback") == [record]  # visible inside
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        index_then_fail()
    with db.transaction() as session:
        assert Index(session, org).find("rollback") == []
        index_document(
            session, organization_id=org, kind="contact", record_id=record, title="Kept Me"
        )
    with db.transaction() as session:
        assert Index(session, org).find("kept") == [record]
        assert Index(session, org).find("rollback") == []


def test_highlights_mark_matched_words_and_escape_the_rest(
    session: Session, index: Index, org: uuid.UUID, people: dict[str, uuid.UUID]
) -> None:
    odd = index.add("<b>Ada</b> & Co", body="x " * 200 + "Ada's notes " + "y " * 200)
    found = highlights(
        session,
        organization_id=org,
        kind="contact",
        query="ada acme",
        record_ids=[people["ada"], people["grace"], people["john"], odd],
    )
    assert found[people["ada"]] == {
        "title": "<mark>Ada</mark> Lovelace",
        "emails": "<mark>ada</mark>.lovelace@<mark>acme</mark>.example, "
        "<mark>ada</mark>@home.example",
    }
    assert found[people["grace"]] == {"body": "Knows <mark>Ada</mark> from the conference."}
    whole = highlights(
        session,
        organization_id=org,
        kind="contact",
        query="ada.lovelace@acme.ex",
        record_ids=[people["ada"]],
    )
    assert whole == {people["ada"]: {"emails": "<mark>ada.lovelace@acme.example</mark>"}}
    assert people["john"] not in found
    assert found[odd]["title"] == "&lt;b&gt;<mark>Ada</mark>&lt;/b&gt; &amp; Co"
    snippet = found[odd]["body"]
    assert "<mark>Ada</mark>&#x27;s notes" in snippet
    assert snippet.startswith("…")
    assert snippet.endswith("…")
    assert len(snippet) < 250


def test_highlights_fold_like_the_search(session: Session, index: Index, org: uuid.UUID) -> None:
    jose = index.add("José Núñez", tags=["Key Account", "vip"])
    found = highlights(
        session, organization_id=org, kind="contact", query="jose key", record_ids=[jose]
    )
    assert found == {jose: {"title": "<mark>José</mark> Núñez", "tags": "<mark>Key</mark> Account"}}
    assert (
        highlights(session, organization_id=org, kind="contact", query="", record_ids=[jose]) == {}
    )


@pytest.mark.parametrize("query", ["", "   ", "@", "\"'*()", "-- ; DROP TABLE x", "\x00\x01"])
def test_empty_or_symbol_only_queries_match_nothing(
    session: Session, index: Index, org: uuid.UUID, people: dict[str, uuid.UUID], query: str
) -> None:
    assert index.find(query) == []
    stmt = search(session, organization_id=org, kind="contact", query=query)
    assert session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one() == 0


@pytest.mark.parametrize(
    "query",
    [
        'ada"',
        '"ada',
        "ada*",
        "ada OR john",
        "NOT ada",
        "ada AND",
        "NEAR(ada john)",
        "title:ada",
        "{title}: ada",
        "ada & john | !grace",
        "'ada':*",
        "ada\x00john",
        "^ada",
        "ada -john",
        "(ada",
        "scope : x",
    ],
)
def test_query_syntax_never_reaches_the_backend(
    index: Index, people: dict[str, uuid.UUID], query: str
) -> None:
    # Operators are separators; the words that remain must all match.
    found = index.find(query)
    words = parse_query(query)
    assert all(record in people.values() for record in found)
    if {term.text for term in words.terms} == {"ada"}:
        assert set(found) == {people["ada"], people["grace"]}


def test_one_character_words(index: Index, people: dict[str, uuid.UUID]) -> None:
    single = index.add("J Edgar")
    # Dropped next to longer words ("j smith" is "smith")...
    assert index.find("j smith") == [people["john"]]
    # ...and whole words when alone (j.smith@… has the word "j").
    assert set(index.find("j")) == {single, people["john"]}
    assert index.find("e") == []


def test_candidate_limit_bounds_the_ranked_matches(index: Index) -> None:
    records = [index.add(f"Common Name {number}") for number in range(5)]
    assert set(index.find("common")) == set(records)
    assert len(index.find("common", candidate_limit=2)) == 2
    assert set(index.find("common", candidate_limit=None)) == set(records)
    with pytest.raises(ValueError, match="candidate_limit"):
        index.find("common", candidate_limit=0)


def test_recently_indexed_documents_are_the_candidates_on_sqlite(
    index: Index, session: Session
) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL takes candidates in physical order")
    first, second, third = (index.add(f"Common {n}") for n in ("one", "two", "three"))
    assert set(index.find("common", candidate_limit=2)) == {second, third}
    index.add("Common one again", record_id=first)  # re-indexed: now the newest
    assert set(index.find("common", candidate_limit=2)) == {first, third}


def test_the_selectable_joins_a_domain_query(
    session: Session, index: Index, org: uuid.UUID, people: dict[str, uuid.UUID]
) -> None:
    # SearchDocument stands in for a domain's table here.
    hits = search(session, organization_id=org, kind="contact", query="jo").subquery()
    stmt = (
        select(SearchDocument.title)
        .join(hits, hits.c.record_id == SearchDocument.record_id)
        .where(SearchDocument.organization_id == org, SearchDocument.title.like("%Smith%"))
        .order_by(hits.c.rank, SearchDocument.record_id)
        .limit(20)
    )
    assert list(session.execute(stmt).scalars()) == ["John Smith"]


def test_kind_is_validated(session: Session, org: uuid.UUID) -> None:
    for kind in ("", "Contact", "con tact", "a" * 33, "x'"):
        with pytest.raises(ValueError, match="kind"):
            search(session, organization_id=org, kind=kind, query="ada")
        with pytest.raises(ValueError, match="kind"):
            index_document(
                session, organization_id=org, kind=kind, record_id=uuid.uuid4(), title="x"
            )


def test_control_characters_in_documents_are_dropped(index: Index) -> None:
    record = index.add("Null\x00Byte", body="bell\x07ringer \ud800")
    assert index.find("byte ringer") == [record]


def test_bulk_indexing(session: Session, index: Index, org: uuid.UUID) -> None:
    existing = index.add("Old Name")
    fresh = uuid.uuid4()
    index_documents(
        session,
        [
            Document(org, "contact", fresh, "First Try"),
            Document(org, "contact", existing, "Renamed Person", emails=["r@bulk.example"]),
            Document(org, "contact", fresh, "Bulk Loaded", tags=["imported"]),  # last wins
        ],
    )
    index_documents(session, [])
    assert set(index.find("bulk")) == {fresh, existing}
    assert index.find("imported") == [fresh]
    assert index.find("first") == []
    assert index.find("old") == []
    assert index.find("r@bulk.example") == [existing]


def test_deleting_the_organization_takes_its_documents(session: Session, factory: Factory) -> None:
    other = Index(session, factory.organization())
    other.add("Cascade Person", emails=["cascade@person.example"])
    session.execute(delete(Organization).where(Organization.id == other.organization_id))
    count = (
        select(func.count())
        .select_from(SearchDocument)
        .where(SearchDocument.organization_id == other.organization_id)
    )
    assert session.execute(count).scalar_one() == 0


def test_the_fts5_index_stays_consistent_with_the_table(
    session: Session, factory: Factory, index: Index, org: uuid.UUID
) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("FTS5 integrity check")
    records = [index.add(f"Person {n}", emails=[f"p{n}@consistent.example"]) for n in range(5)]
    index.add("Renamed", body="new notes", record_id=records[0])
    index.add("Renamed", body="new notes", record_id=records[0])  # unchanged: no-op
    remove_document(session, org, "contact", records[1])
    other = Index(session, factory.organization())
    other.add("Someone Else")
    session.execute(delete(Organization).where(Organization.id == other.organization_id))
    # FTS5 compares every index entry with the content table; raises when they differ.
    session.execute(
        text(
            "INSERT INTO search_documents_fts (search_documents_fts, rank)"
            " VALUES ('integrity-check', 1)"
        )
    )
    assert set(index.find("consistent")) == set(records[2:])
