//! The stock list StockData serves: the NASDAQ-100 constituents (101 share
//! classes, since Alphabet lists two), written down by hand as data.
//!
//! Ids are 1-based positions in [`NASDAQ_100`], so ids `1..=101` resolve and
//! StockWeb's page, which asks for ids `2..=101`, finds every one.

use crate::pb::Stock;

/// `(symbol, name)` in id order; the array length is checked at compile time.
pub const NASDAQ_100: [(&str, &str); 101] = [
    ("AAPL", "Apple Inc."),
    ("ABNB", "Airbnb Inc."),
    ("ADBE", "Adobe Inc."),
    ("ADI", "Analog Devices Inc."),
    ("ADP", "Automatic Data Processing Inc."),
    ("ADSK", "Autodesk Inc."),
    ("AEP", "American Electric Power Co."),
    ("AMAT", "Applied Materials Inc."),
    ("AMD", "Advanced Micro Devices Inc."),
    ("AMGN", "Amgen Inc."),
    ("AMZN", "Amazon.com Inc."),
    ("ANSS", "ANSYS Inc."),
    ("ARM", "Arm Holdings plc"),
    ("ASML", "ASML Holding N.V."),
    ("AVGO", "Broadcom Inc."),
    ("AZN", "AstraZeneca plc"),
    ("BIIB", "Biogen Inc."),
    ("BKNG", "Booking Holdings Inc."),
    ("BKR", "Baker Hughes Co."),
    ("CCEP", "Coca-Cola Europacific Partners plc"),
    ("CDNS", "Cadence Design Systems Inc."),
    ("CDW", "CDW Corp."),
    ("CEG", "Constellation Energy Corp."),
    ("CHTR", "Charter Communications Inc."),
    ("CMCSA", "Comcast Corp."),
    ("COST", "Costco Wholesale Corp."),
    ("CPRT", "Copart Inc."),
    ("CRWD", "CrowdStrike Holdings Inc."),
    ("CSCO", "Cisco Systems Inc."),
    ("CSGP", "CoStar Group Inc."),
    ("CSX", "CSX Corp."),
    ("CTAS", "Cintas Corp."),
    ("CTSH", "Cognizant Technology Solutions Corp."),
    ("DASH", "DoorDash Inc."),
    ("DDOG", "Datadog Inc."),
    ("DLTR", "Dollar Tree Inc."),
    ("DXCM", "DexCom Inc."),
    ("EA", "Electronic Arts Inc."),
    ("EXC", "Exelon Corp."),
    ("FANG", "Diamondback Energy Inc."),
    ("FAST", "Fastenal Co."),
    ("FTNT", "Fortinet Inc."),
    ("GEHC", "GE HealthCare Technologies Inc."),
    ("GFS", "GlobalFoundries Inc."),
    ("GILD", "Gilead Sciences Inc."),
    ("GOOG", "Alphabet Inc. Class C"),
    ("GOOGL", "Alphabet Inc. Class A"),
    ("HON", "Honeywell International Inc."),
    ("IDXX", "IDEXX Laboratories Inc."),
    ("ILMN", "Illumina Inc."),
    ("INTC", "Intel Corp."),
    ("INTU", "Intuit Inc."),
    ("ISRG", "Intuitive Surgical Inc."),
    ("KDP", "Keurig Dr Pepper Inc."),
    ("KHC", "Kraft Heinz Co."),
    ("KLAC", "KLA Corp."),
    ("LIN", "Linde plc"),
    ("LRCX", "Lam Research Corp."),
    ("LULU", "Lululemon Athletica Inc."),
    ("MAR", "Marriott International Inc."),
    ("MCHP", "Microchip Technology Inc."),
    ("MDB", "MongoDB Inc."),
    ("MDLZ", "Mondelez International Inc."),
    ("MELI", "MercadoLibre Inc."),
    ("META", "Meta Platforms Inc."),
    ("MNST", "Monster Beverage Corp."),
    ("MRNA", "Moderna Inc."),
    ("MRVL", "Marvell Technology Inc."),
    ("MSFT", "Microsoft Corp."),
    ("MU", "Micron Technology Inc."),
    ("NFLX", "Netflix Inc."),
    ("NVDA", "NVIDIA Corp."),
    ("NXPI", "NXP Semiconductors N.V."),
    ("ODFL", "Old Dominion Freight Line Inc."),
    ("ON", "ON Semiconductor Corp."),
    ("ORLY", "O'Reilly Automotive Inc."),
    ("PANW", "Palo Alto Networks Inc."),
    ("PAYX", "Paychex Inc."),
    ("PCAR", "PACCAR Inc."),
    ("PDD", "PDD Holdings Inc."),
    ("PEP", "PepsiCo Inc."),
    ("PYPL", "PayPal Holdings Inc."),
    ("QCOM", "Qualcomm Inc."),
    ("REGN", "Regeneron Pharmaceuticals Inc."),
    ("ROP", "Roper Technologies Inc."),
    ("ROST", "Ross Stores Inc."),
    ("SBUX", "Starbucks Corp."),
    ("SMCI", "Super Micro Computer Inc."),
    ("SNPS", "Synopsys Inc."),
    ("TEAM", "Atlassian Corp."),
    ("TMUS", "T-Mobile US Inc."),
    ("TSLA", "Tesla Inc."),
    ("TTD", "The Trade Desk Inc."),
    ("TTWO", "Take-Two Interactive Software Inc."),
    ("TXN", "Texas Instruments Inc."),
    ("VRSK", "Verisk Analytics Inc."),
    ("VRTX", "Vertex Pharmaceuticals Inc."),
    ("WBD", "Warner Bros. Discovery Inc."),
    ("WDAY", "Workday Inc."),
    ("XEL", "Xcel Energy Inc."),
    ("ZS", "Zscaler Inc."),
];

/// Looks a stock up by its 1-based id.
pub fn lookup(id: i32) -> Option<Stock> {
    let index = usize::try_from(id).ok()?.checked_sub(1)?;
    let (symbol, name) = NASDAQ_100.get(index)?;
    Some(Stock {
        id,
        symbol: (*symbol).to_string(),
        name: (*name).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ids_one_to_101_resolve_and_nothing_else() {
        assert!(lookup(0).is_none());
        assert!(lookup(-3).is_none());
        assert!(lookup(102).is_none());
        for id in 1..=101 {
            let stock = lookup(id).expect("id in range");
            assert_eq!(stock.id, id);
        }
        assert_eq!(lookup(1).map(|s| s.symbol), Some("AAPL".to_string()));
    }

    #[test]
    fn symbols_are_unique() {
        let symbols: BTreeSet<_> = NASDAQ_100.iter().map(|(s, _)| *s).collect();
        assert_eq!(symbols.len(), NASDAQ_100.len());
    }
}
