-- today: the day it is now in Peru.
select timezone('America/Lima', now())::date
