"""AnnIndex (plugins/ml/recommender/ann.py): exact results on small sets, recall of the HNSW path
on MF-like vectors, filters and exclusions (selective ones still return k), add/replace/remove,
save/load (also memory-mapped), and searches running while items are added."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from bench.recommender_ann import exact_top_k, mf_like_vectors
from plugins.ml.recommender import ann
from plugins.ml.recommender.ann import BUILD_TIME_PARAMS, DEFAULT_PARAMS, GATHER_COST, AnnIndex
from plugins.ml.recommender.partitions import Partitions

DIM = 32


def brute_force(vectors, query, k, eligible=None):
    """Exact cosine top-k over the rows of `vectors` (eligible: bool mask or None)."""
    similarity = (vectors @ query) / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(query))
    if eligible is not None:
        similarity[~eligible] = -np.inf
    keys = np.argsort(-similarity, kind="stable")[:k]
    keys = keys[np.isfinite(similarity[keys])]
    return keys, (1.0 - similarity[keys]).astype(np.float32)


@pytest.fixture(scope="module")
def vectors():
    return np.random.default_rng(3).normal(size=(3_000, DIM)).astype(np.float32)


@pytest.fixture(scope="module", params=["ivf", "hnsw"])
def method(request):
    """Tests taking `method` (or `ann_index`) run for both candidate searches."""
    return request.param


@pytest.fixture(scope="module")
def shared_ann_index(vectors, method):
    return AnnIndex.build(np.arange(len(vectors)), vectors, exact_below=0, method=method)


@pytest.fixture
def ann_index(shared_ann_index):
    """Searches go through the partitions or the graph (exact_below=0), not the small-index
    exact scan. Tests may change search-time parameters; they are reset afterwards."""
    yield shared_ann_index
    search_time = set(DEFAULT_PARAMS) - BUILD_TIME_PARAMS
    shared_ann_index.set_search_params(**{name: DEFAULT_PARAMS[name] for name in search_time})
    shared_ann_index.set_search_params(exact_below=0)


def queries(count, seed=11):
    return np.random.default_rng(seed).normal(size=(count, DIM)).astype(np.float32)


def test_small_index_is_exact_in_keys_and_distances(vectors):
    small = vectors[:500]
    index = AnnIndex.build(np.arange(500), small)
    for query in queries(20):
        keys, distances = index.search(query, 10)
        expected_keys, expected_distances = brute_force(small, query, 10)
        assert keys.dtype == np.int64 and distances.dtype == np.float32
        assert keys.tolist() == expected_keys.tolist()
        np.testing.assert_allclose(distances, expected_distances, atol=1e-5)
        assert np.all(np.diff(distances) >= 0)


def test_results_are_exactly_ordered_and_scored(ann_index, vectors):
    for query in queries(20):
        keys, distances = ann_index.search(query, 10)
        assert len(keys) == 10 and len(set(keys.tolist())) == 10
        true_distances = 1 - (vectors[keys] @ query) / (
            np.linalg.norm(vectors[keys], axis=1) * np.linalg.norm(query)
        )
        np.testing.assert_allclose(distances, true_distances, atol=1e-5)
        assert np.all(np.diff(distances) >= 0)


def test_recall_on_mf_like_vectors(method):
    items, users, _ = mf_like_vectors(2_500, 100, dim=64, seed=5)
    index = AnnIndex.build(np.arange(len(items)), items, exact_below=0, expansion_search=64, probes=8,
                           method=method)
    truth = exact_top_k(items, users, 10)
    found = sum(len(np.intersect1d(index.search(user, 10)[0], truth[row])) for row, user in enumerate(users))
    assert found / truth.size >= 0.9


def test_k_larger_than_index_and_empty_index(vectors):
    index = AnnIndex.build(np.arange(5), vectors[:5])
    keys, _ = index.search(vectors[0], 10)
    assert sorted(keys.tolist()) == [0, 1, 2, 3, 4] and keys[0] == 0
    index.remove(np.arange(5))
    keys, distances = index.search(vectors[0], 10)
    assert len(index) == 0 and len(keys) == 0 and len(distances) == 0


@pytest.mark.parametrize("filter_exact_max", [0, 20_000], ids=["graph_postfilter", "exact_scan"])
def test_allowed_mask_matches_filtered_brute_force(ann_index, vectors, filter_exact_max):
    index = ann_index
    index.set_search_params(filter_exact_max=filter_exact_max)
    allowed = np.random.default_rng(1).random(len(vectors)) < 0.3
    found = 0
    for query in queries(20):
        keys, distances = index.search(query, 10, allowed=allowed)
        assert len(keys) == 10 and allowed[keys].all() and np.all(np.diff(distances) >= 0)
        found += len(np.intersect1d(keys, brute_force(vectors, query, 10, allowed)[0]))
    if filter_exact_max:  # an exact scan of the allowed rows
        assert found == 200
    else:  # post-filtered HNSW candidates: approximate
        assert found >= 0.95 * 200


@pytest.mark.parametrize("filter_exact_max", [0, 20_000], ids=["graph_then_fallback", "exact_scan"])
def test_very_selective_filter_still_returns_k(ann_index, vectors, filter_exact_max):
    index = ann_index
    index.set_search_params(filter_exact_max=filter_exact_max, max_fetch=256)
    query = queries(1)[0]
    # The 12 items farthest from the query: over-fetching from the graph never reaches them.
    allowed = np.zeros(len(vectors), bool)
    allowed[brute_force(vectors, -query, 12)[0]] = True
    keys, _ = index.search(query, 10, allowed=allowed)
    assert len(keys) == 10
    assert keys.tolist() == brute_force(vectors, query, 10, allowed)[0].tolist()
    # Fewer allowed items than k: all of them, no more.
    few = np.zeros(len(vectors), bool)
    few[[7, 70, 700]] = True
    assert sorted(index.search(query, 10, allowed=few)[0].tolist()) == [7, 70, 700]


@pytest.mark.parametrize("layout", ["spans", "scattered"])
def test_exact_scan_scores_spans_and_scattered_rows_alike(ann_index, vectors, layout):
    """A category filter over contiguous rows is scored slice by slice, a scattered one by
    gathering rows: both give exactly the brute-force keys and distances."""
    index = ann_index
    index.set_search_params(filter_exact_max=10**6)
    allowed = np.zeros(len(vectors), bool)
    if layout == "spans":  # two categories with a few excluded rows punched in
        allowed[200:1_900] = allowed[2_300:2_900] = True
        allowed[[250, 251, 1_000, 2_500]] = False
    else:
        allowed[np.random.default_rng(5).choice(len(vectors), 1_500, replace=False)] = True
    spans = AnnIndex._scan_cost(np.flatnonzero(allowed)) < GATHER_COST * allowed.sum()
    assert spans == (layout == "spans")
    for query in queries(10):
        keys, distances = index.search(query, 10, allowed=allowed)
        expected_keys, expected_distances = brute_force(vectors, query, 10, allowed)
        assert keys.tolist() == expected_keys.tolist()
        np.testing.assert_allclose(distances, expected_distances, atol=1e-5)


def test_allowed_mask_shorter_than_index_disallows_the_rest(ann_index, vectors):
    allowed = np.ones(100, bool)  # e.g. built before items 100.. were added
    keys, _ = ann_index.search(queries(1)[0], 10, allowed=allowed)
    assert len(keys) == 10 and keys.max() < 100


def test_exclude_removes_keys_and_still_returns_k(ann_index, vectors):
    query = queries(1)[0]
    top, _ = brute_force(vectors, query, 60)
    exclude = top[:50]
    keys, _ = ann_index.search(query, 10, exclude=exclude)
    assert not set(keys.tolist()) & set(exclude.tolist())
    assert keys.tolist() == top[50:60].tolist()
    # Together with a filter, and with unknown / repeated keys in the list.
    allowed = np.zeros(len(vectors), bool)
    allowed[top[:55]] = True
    keys, _ = ann_index.search(query, 10, allowed=allowed, exclude=np.concatenate([exclude, exclude, [10**9]]))
    assert keys.tolist() == top[50:55].tolist()


def test_long_exclude_list_behaves_like_a_filter(ann_index, vectors):
    query = queries(1)[0]
    keep = np.random.default_rng(4).choice(len(vectors), 40, replace=False)
    exclude = np.setdiff1d(np.arange(len(vectors)), keep)  # all but 40 keys
    keys, _ = ann_index.search(query, 10, exclude=exclude)
    eligible = np.zeros(len(vectors), bool)
    eligible[keep] = True
    assert keys.tolist() == brute_force(vectors, query, 10, eligible)[0].tolist()


def test_add_replace_and_remove(vectors, method):
    index = AnnIndex.build(np.arange(1_500), vectors[:1_500], exact_below=0, method=method)
    assert len(index) == 1_500
    # A cold-start item after training, with a key beyond the trained rows.
    new_vector = queries(1, seed=99)[0]
    index.add(np.array([2_900]), new_vector[None])
    assert len(index) == 1_501 and 2_900 in index and 2_600 not in index
    assert index.search(new_vector, 1)[0].tolist() == [2_900]
    np.testing.assert_array_equal(index.vector(2_900), new_vector)
    assert index.vector(2_600) is None and index.vector(10**6) is None

    # Replacing key 5 moves it: it is found at its new place and no longer at its old one.
    old_vector = vectors[5].copy()
    index.add(np.array([5]), -old_vector[None])
    assert len(index) == 1_501
    np.testing.assert_array_equal(index.vector(5), -old_vector)
    assert index.search(-old_vector, 1)[0].tolist() == [5]
    assert 5 not in index.search(old_vector, 10)[0].tolist()

    index.remove(np.array([5, 2_900, 123_456]))  # unknown keys are ignored
    assert len(index) == 1_499 and index.vector(5) is None and 5 not in index
    for query in (new_vector, -old_vector):
        assert not {5, 2_900} & set(index.search(query, 50)[0].tolist())
    # A removed key can come back.
    index.add(np.array([5]), old_vector[None])
    assert index.search(old_vector, 1)[0].tolist() == [5] and len(index) == 1_500


def test_bad_input_is_refused(vectors):
    with pytest.raises(ValueError):
        AnnIndex.build(np.arange(10), vectors[:10], no_such_knob=1)
    index = AnnIndex.build(np.arange(10), vectors[:10])
    with pytest.raises(ValueError):
        index.add(np.array([1, 1]), vectors[:2])
    with pytest.raises(ValueError):
        index.add(np.array([-1]), vectors[:1])
    with pytest.raises(ValueError):
        index.add(np.array([11]), np.ones((1, DIM + 1), np.float32))
    with pytest.raises(ValueError):
        index.search(vectors[0], 3, allowed=np.array([1, 2, 3]))
    with pytest.raises(ValueError):
        index.set_search_params(connectivity=64)
    with pytest.raises(ValueError):
        index.set_search_params(partitions=8)
    with pytest.raises(ValueError):
        AnnIndex.build(np.arange(10), vectors[:10], method="annoy")
    index.set_search_params(expansion_search=32, overfetch=2)
    assert index.params["expansion_search"] == 32


@pytest.mark.parametrize("view", [False, True], ids=["load", "view"])
def test_save_and_load_round_trip(tmp_path, ann_index, vectors, view):
    ann_index.set_search_params(expansion_search=100)
    ann_index.save(tmp_path)
    loaded = AnnIndex.load(tmp_path, view=view)
    assert len(loaded) == len(vectors) and loaded.params["expansion_search"] == 100
    np.testing.assert_array_equal(loaded.vector(42), vectors[42])
    for query in queries(10):
        assert loaded.search(query, 10)[0].tolist() == ann_index.search(query, 10)[0].tolist()
    if view:
        assert loaded.memory_bytes < ann_index.memory_bytes
    # Changing a loaded (or memory-mapped) index works and leaves the saved files alone.
    loaded.remove(np.array([17]))
    loaded.add(np.array([3_000]), queries(1)[0][None])
    assert loaded.vector(17) is None and len(loaded) == len(vectors)
    assert loaded.search(queries(1)[0], 1)[0].tolist() == [3_000]
    reloaded = AnnIndex.load(tmp_path)
    assert len(reloaded) == len(vectors) and reloaded.vector(3_000) is None
    np.testing.assert_array_equal(reloaded.vector(17), vectors[17])


def test_searches_run_safely_while_items_are_added(vectors, method, monkeypatch):
    monkeypatch.setattr(ann, "TAIL_MIN", 300)  # the partitions' tail is laid out while searching
    base = 1_000
    index = AnnIndex.build(np.arange(base), vectors[:base], exact_below=0, method=method)
    batches = np.array_split(np.arange(base, len(vectors)), 20)
    done = threading.Event()

    def search_until_done(seed):
        rounds = 0
        for query in queries(10_000, seed):
            keys, distances = index.search(query, 10)
            assert len(keys) == 10 and np.all(np.diff(distances) >= 0)
            assert keys.max() < len(vectors)
            rounds += 1
            if done.is_set() and rounds > 20:
                return rounds
        return rounds

    with ThreadPoolExecutor(3) as pool:
        searchers = [pool.submit(search_until_done, seed) for seed in range(3)]
        for batch in batches:  # capacity grows many times while searches run
            index.add(batch, vectors[batch])
        done.set()
        assert all(future.result() > 20 for future in searchers)
    assert len(index) == len(vectors)
    for key in (base, 2_000, len(vectors) - 1):
        assert index.search(vectors[key], 1)[0].tolist() == [key]


def test_partition_scan_scores_exactly_the_probed_partitions(vectors):
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    partitions = Partitions.build(np.arange(len(unit)), unit, 40)
    assert sorted(partitions.keys.tolist()) == list(range(len(unit)))
    query = unit[7]
    keys, similarity = partitions.scan(query, 5)
    nearest = np.argsort(-(partitions.centroids @ query))[:5]
    expected = np.concatenate([partitions.keys[partitions.bounds[p]:partitions.bounds[p + 1]] for p in nearest])
    assert sorted(keys.tolist()) == sorted(expected.tolist()) and 7 in keys.tolist()
    np.testing.assert_allclose(similarity, unit[keys] @ query, atol=1e-5)


def test_partition_tail_is_laid_out_when_it_grows(vectors, monkeypatch):
    """Keys added to or replaced in a partitioned index are scanned in a tail until there are
    enough of them, then laid out into partitions; searches find them either way."""
    monkeypatch.setattr(ann, "TAIL_MIN", 100)
    monkeypatch.setattr(ann, "TAIL_SHARE", 0.0)
    index = AnnIndex.build(np.arange(2_000), vectors[:2_000], exact_below=0, probes=6)
    index.add(np.arange(2_000, 2_050), vectors[2_000:2_050])
    assert len(index._tail) == 50
    index.add(np.array([3]), -vectors[3][None])  # a replaced key leaves its old layout row
    assert len(index._tail) == 51
    index.add(np.arange(2_050, 2_200), vectors[2_050:2_200])
    assert len(index._tail) == 0 and len(index._partitions.keys) == 2_200
    assert sorted(index._partitions.keys.tolist()) == list(range(2_200))
    for key in (2_010, 2_150, 1_999):
        assert index.search(vectors[key], 1)[0].tolist() == [key]
    assert index.search(-vectors[3], 1)[0].tolist() == [3]
    assert 3 not in index.search(vectors[3], 10)[0].tolist()


def test_an_index_built_empty_grows_and_round_trips(tmp_path, vectors, method, monkeypatch):
    monkeypatch.setattr(ann, "TAIL_MIN", 500)
    index = AnnIndex.build(np.zeros(0, np.int64), np.zeros((0, DIM), np.float32), exact_below=0, method=method)
    assert len(index) == 0 and len(index.search(vectors[0], 5)[0]) == 0
    index.add(np.arange(300), vectors[:300])
    assert index.search(vectors[42], 1)[0].tolist() == [42]
    index.save(tmp_path / "small")
    assert AnnIndex.load(tmp_path / "small").search(vectors[42], 1)[0].tolist() == [42]
    index.add(np.arange(300, 1_000), vectors[300:1_000])  # past TAIL_MIN: laid out afresh
    assert index.search(vectors[900], 1)[0].tolist() == [900]
