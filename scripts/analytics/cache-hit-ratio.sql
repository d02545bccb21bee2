-- Cache hit ratio (%) per method and route pattern, per time bucket: (HIT + STALE) / (HIT + STALE + MISS).
-- Requests no cache was involved in (NONE) or that bypassed it (BYPASS) are left out.
SELECT
    $timeSeries AS t,
    format('{} {}', blob1, blob2) AS route,
    100 * SUM(if(blob4 IN ('HIT', 'STALE'), _sample_interval, 0)) / SUM(_sample_interval) AS cache_hit_pct
FROM ${dataset}
WHERE $timeFilter AND blob4 IN ('HIT', 'STALE', 'MISS')
GROUP BY t, route
ORDER BY t
