-- Per Cloudflare location (colo) over the window: requests, latency and database time. With Smart
-- Placement the Worker runs near the database, so db_ms should stay flat across colos.
SELECT
    blob5 AS colo,
    SUM(_sample_interval) AS requests,
    quantileExactWeighted(0.5)(double1, _sample_interval) AS p50_ms,
    quantileExactWeighted(0.95)(double1, _sample_interval) AS p95_ms,
    SUM(_sample_interval * double3) / SUM(_sample_interval) AS db_ms
FROM ${dataset}
WHERE $timeFilter
GROUP BY colo
ORDER BY requests DESC
