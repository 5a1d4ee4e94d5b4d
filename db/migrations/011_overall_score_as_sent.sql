-- An analysis' overall score is stored as the analyst sent it: numeric(5, 2) rounded 77.125 to
-- 77.13 without a word. Unconstrained numeric keeps every digit (0 to 100 still); dropping the
-- typmod needs no table rewrite. Scores already stored keep their two decimals.
ALTER TABLE analyses ALTER COLUMN overall_score TYPE numeric;
