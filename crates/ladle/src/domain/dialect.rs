//! The two API generations ladle answers: today's v3 and the 2015 experimental v3 (ADR 0003).
//! Most requests say the same thing in both; where they answer differently (an unusable space,
//! an unusable droplet), the request's dialect decides.

/// Which API generation a request was written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Today's v3: `relationships.space` in `POST /v3/apps`,
    /// `PATCH /v3/apps/:guid/relationships/current_droplet`. An unusable target is a 422.
    Current,
    /// 2015's experimental v3: `space_guid` in `POST /v3/apps`,
    /// `PUT /v3/apps/:guid/current_droplet`. An unusable target is a 404, as it was then.
    Experimental2015,
}
