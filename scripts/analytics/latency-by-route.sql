-- 95th percentile duration (ms) per method and route pattern, per time bucket.
SELECT
    $timeSeries AS t,
    format('{} {}', blob1, blob2) AS route,
    quantileExactWeighted(0.95)(double1, _sample_interval) AS p95_ms
FROM ${dataset}
WHERE $timeFilter
GROUP BY t, route
ORDER BY t
