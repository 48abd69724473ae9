// SPDX-License-Identifier: GPL-3.0-only
pragma solidity ^0.8.24;

/// The part of ERC-20 that the payment contracts call.
interface IERC20Minimal {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}
