-- Requests per second per method and route pattern, per time bucket.
SELECT
    $timeSeries AS t,
    format('{} {}', blob1, blob2) AS route,
    SUM(_sample_interval) / $interval AS req_per_s
FROM ${dataset}
WHERE $timeFilter
GROUP BY t, route
ORDER BY t
