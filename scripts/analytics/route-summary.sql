-- Per method and route pattern over the window: requests, req/s, latency percentiles, error rates,
-- cache hit ratio and database round trips. One row per route, busiest first.
SELECT
    blob1 AS method,
    blob2 AS route,
    SUM(_sample_interval) AS requests,
    SUM(_sample_interval) / ($to - $from) AS req_per_s,
    quantileExactWeighted(0.5)(double1, _sample_interval) AS p50_ms,
    quantileExactWeighted(0.95)(double1, _sample_interval) AS p95_ms,
    quantileExactWeighted(0.99)(double1, _sample_interval) AS p99_ms,
    100 * SUM(if(startsWith(blob3, '5'), _sample_interval, 0)) / SUM(_sample_interval) AS error_5xx_pct,
    100 * SUM(if(startsWith(blob3, '4'), _sample_interval, 0)) / SUM(_sample_interval) AS error_4xx_pct,
    100 * SUM(if(blob4 IN ('HIT', 'STALE'), _sample_interval, 0))
        / SUM(if(blob4 IN ('HIT', 'STALE', 'MISS'), _sample_interval, 0)) AS cache_hit_pct,
    SUM(_sample_interval * double2) / SUM(_sample_interval) AS db_round_trips,
    SUM(_sample_interval * double3) / SUM(_sample_interval) AS db_ms
FROM ${dataset}
WHERE $timeFilter
GROUP BY method, route
ORDER BY requests DESC
