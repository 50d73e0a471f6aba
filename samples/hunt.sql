-- A hunt: who called IAM, how often, from where (README: query -f).
select actor, event_name, source_ip, count(*) as calls
from events
where event_source = 'iam.amazonaws.com'
group by all
order by calls desc
