-- Share of all requests answered 5xx and 4xx (%), per time bucket.
SELECT
    $timeSeries AS t,
    100 * SUM(if(startsWith(blob3, '5'), _sample_interval, 0)) / SUM(_sample_interval) AS error_5xx_pct,
    100 * SUM(if(startsWith(blob3, '4'), _sample_interval, 0)) / SUM(_sample_interval) AS error_4xx_pct
FROM ${dataset}
WHERE $timeFilter
GROUP BY t
ORDER BY t
