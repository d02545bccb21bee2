-- Duration percentiles (ms) of all requests, per time bucket.
SELECT
    $timeSeries AS t,
    quantileExactWeighted(0.5)(double1, _sample_interval) AS p50_ms,
    quantileExactWeighted(0.95)(double1, _sample_interval) AS p95_ms,
    quantileExactWeighted(0.99)(double1, _sample_interval) AS p99_ms
FROM ${dataset}
WHERE $timeFilter
GROUP BY t
ORDER BY t
