"""vLLM's prefix-cache counters and the process-tree memory the load test reads."""

import os

import pytest

from genai_lab.app.serving_stats import PrefixCacheCounters, parse_prefix_cache, tree_rss_mb

EXPOSITION = """# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="smollm2"} 1200.0
vllm:prefix_cache_queries_total{engine="1",model_name="smollm2"} 300.0
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine="0",model_name="smollm2"} 900.0
vllm:prefix_cache_hits_total{engine="1",model_name="smollm2"} 0.0
vllm:prefix_cache_hits_created{engine="0",model_name="smollm2"} 1.7e9
vllm:num_requests_running{engine="0",model_name="smollm2"} 3.0
"""


def test_counters_sum_over_engines_and_ignore_other_series():
    counters = parse_prefix_cache(EXPOSITION)
    assert counters == PrefixCacheCounters(hits=900.0, queries=1500.0)


def test_hit_rate_is_over_the_run_only():
    before = PrefixCacheCounters(hits=100.0, queries=500.0)
    after = PrefixCacheCounters(hits=700.0, queries=1300.0)
    assert after.hit_rate_since(before) == pytest.approx(600 / 800)
    assert before.hit_rate_since(before) is None  # nothing looked up: no rate, not 0


def test_a_server_without_stats_is_a_clear_error():
    with pytest.raises(ValueError, match="--disable-log-stats"):
        parse_prefix_cache("# HELP python_info\npython_info{version=\"3.11\"} 1.0\n")


def test_tree_memory_counts_this_process_at_least():
    assert tree_rss_mb(os.getpid()) > 10
