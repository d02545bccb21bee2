-- Mean database round trips per request, per method and route pattern, per time bucket.
SELECT
    $timeSeries AS t,
    format('{} {}', blob1, blob2) AS route,
    SUM(_sample_interval * double2) / SUM(_sample_interval) AS db_round_trips
FROM ${dataset}
WHERE $timeFilter
GROUP BY t, route
ORDER BY t
