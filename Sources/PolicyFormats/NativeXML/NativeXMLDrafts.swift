import PolicyModel

/// A filter list as read, before other lists' filters are included in place.
struct NativeXMLFilterListDraft {
    /// An `<include>`: the filters of `target` go before `filters[position]`.
    struct Include {
        var position: Int
        var target: IPsecGUID
        var line: Int
    }

    var list: FilterList
    var includes: [Include] = []
    var line: Int
}

/// A GUID reference as read, kept with its place so that a dangling one can be reported there.
struct NativeXMLReference {
    enum Target: String {
        case filterList = "filter list"
        case filterAction = "filter action"
        case policy
    }

    var target: Target
    var id: IPsecGUID
    var line: Int
    var element: NativeXMLElement
    var attribute: NativeXMLAttribute
}
